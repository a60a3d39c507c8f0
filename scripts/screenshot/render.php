<?php
/**
 * Renders the real settings view (Bitrix::showPage through the test doubles of the framework)
 * inside a FreePBX-like page frame, with Bootstrap 3 and Font Awesome 4 from Debian packages.
 * Usage: php render.php > page.html   (see shot.sh)
 */
require __DIR__ . '/../../utests/stubs/freepbx.php';
require __DIR__ . '/../../utests/stubs/extensions.php';
require __DIR__ . '/../../Bitrix.class.php';

$tmp = sys_get_temp_dir() . '/itd-bitrix-shot-' . getmypid();
@mkdir($tmp, 0755, true);
$freepbx = new FreePBX();
$core = new TestCore();
$core->dids = [
    ['extension' => '74951234567', 'cidnum' => '', 'description' => 'Moscow office'],
    ['extension' => '78126543210', 'cidnum' => '', 'description' => 'St Petersburg'],
    ['extension' => '88005553535', 'cidnum' => '', 'description' => 'Toll-free'],
    ['extension' => '74997001122', 'cidnum' => '', 'description' => 'Support line'],
];
$freepbx->register('Core', $core);
$_SERVER['HTTP_HOST'] = 'pbx.example.com';
$_SERVER['HTTPS'] = 'on';
$b = new \FreePBX\modules\Bitrix($freepbx, [
    'configPath' => $tmp . '/itd_bitrix.json',
    'cliCommand' => [PHP_BINARY, __DIR__ . '/sample-cli.php'],
    'chown' => false,
]);
$freepbx->register('Bitrix', $b);
$b->setConfig('settings', array_merge($b->settings()->get(), [
    'enabled' => true,
    'webhookUrl' => 'https://example.bitrix24.ru/rest/1/k2j4h5g6f7d8s9a0/',
    'dids' => ['+74951234567', '88005553535'],
    'defaultUserId' => 1,
    'createCrmEntity' => true,
]));
$page = $b->showPage();
@unlink($tmp . '/itd_bitrix.json');
@rmdir($tmp);

$calls = [
    ['startedAt' => '2026-11-26 10:41:58', 'callerNumber' => '+79161234567', 'did' => '74951234567', 'operatorExtension' => '201', 'answeredAt' => '10:42:04', 'finishedAt' => '10:44:31', 'status' => 200, 'state' => 'finished', 'bitrixCallId' => 'externalCall.7c1f…'],
    ['startedAt' => '2026-11-26 10:37:12', 'callerNumber' => '+79031112233', 'did' => '88005553535', 'operatorExtension' => '', 'answeredAt' => '', 'finishedAt' => '10:37:40', 'status' => 304, 'state' => 'finished', 'bitrixCallId' => 'externalCall.52ab…'],
    ['startedAt' => '2026-11-26 10:29:45', 'callerNumber' => '+74959876543', 'did' => '74951234567', 'operatorExtension' => '203', 'answeredAt' => '10:29:51', 'finishedAt' => '10:33:02', 'status' => 200, 'state' => 'finished', 'bitrixCallId' => 'externalCall.91de…'],
];
$check = ['ok' => true, 'warnings' => [], 'checks' => [
    ['id' => 'config', 'ok' => true, 'message' => 'configuration file is valid'],
    ['id' => 'reach', 'ok' => true, 'message' => 'portal reached and credentials accepted'],
    ['id' => 'scope_user', 'ok' => true, 'message' => 'user scope available'],
    ['id' => 'scope_telephony', 'ok' => true, 'message' => 'telephony scope available'],
    ['id' => 'scope_crm', 'ok' => true, 'message' => 'CRM search available'],
]];
$selftest = ['ok' => true, 'failed' => null,
    'message' => 'itd-bitrix can run here: Node.js v18.19.0, linux x64 (amd64), glibc 2.36, SQLite 3.44.2 (itd_bitrix_sqlite3-linux-x64-glibc2.28.node)'];
$js = '/usr/share/javascript';
?><!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>Bitrix24 Integration – FreePBX</title>
<link rel="stylesheet" href="file://<?php echo $js; ?>/bootstrap/css/bootstrap.min.css">
<link rel="stylesheet" href="file:///usr/share/fonts-font-awesome/css/font-awesome.min.css">
<link rel="stylesheet" href="file://<?php echo __DIR__; ?>/freepbx-frame.css">
<link rel="stylesheet" href="file://<?php echo realpath(__DIR__ . '/../../assets/css/bitrix.css'); ?>">
</head>
<body>
<nav class="navbar navbar-inverse fpbx-nav">
  <div class="container-fluid">
    <span class="navbar-brand"><i class="fa fa-phone-square"></i> PBX</span>
    <ul class="nav navbar-nav">
      <li><a>Admin</a></li><li><a>Applications</a></li><li class="active"><a>Connectivity</a></li>
      <li><a>Dashboard</a></li><li><a>Reports</a></li><li><a>Settings</a></li><li><a>UCP</a></li>
    </ul>
    <ul class="nav navbar-nav navbar-right"><li><a><i class="fa fa-user"></i> admin</a></li></ul>
  </div>
</nav>
<div id="page_body">
<?php echo $page; ?>
</div>
<div id="action-bar">
  <div id="action-buttons">
    <input type="submit" class="btn btn-default" value="Submit" id="submit">
    <input type="reset" class="btn btn-default" value="Reset" id="reset">
  </div>
</div>
<script src="file://<?php echo $js; ?>/jquery/jquery.min.js"></script>
<script src="file://<?php echo $js; ?>/bootstrap/js/bootstrap.min.js"></script>
<script>
// Screenshot-only stand-ins for ajax.php and bootstrap-table (not part of the module).
window.jQuery.getJSON = function (url) {
  var answer = /command=selftest/.test(url) ? <?php echo json_encode($selftest); ?> : <?php echo json_encode($check); ?>;
  return jQuery.Deferred().resolve(answer).promise();
};
jQuery(function ($) {
  var calls = <?php echo json_encode($calls); ?>;
  $('table[data-toggle="table"]').each(function () {
    var $t = $(this), fields = $t.find('th').map(function () { return $(this).data('field'); }).get();
    var $tb = $('<tbody/>').appendTo($t);
    calls.forEach(function (row) {
      var $tr = $('<tr/>').appendTo($tb);
      fields.forEach(function (f) { $('<td/>').text(row[f] === undefined ? '' : row[f]).appendTo($tr); });
    });
  });
});
</script>
<script src="file://<?php echo realpath(__DIR__ . '/../../assets/js/bitrix.js'); ?>"></script>
<script>
jQuery(function ($) {
  $('#itd-bitrix-check').trigger('click');
  // Collapse "Timing and storage" as a click on its section title does in FreePBX, so the status fits.
  $('.section[data-id="itd-advanced"]').hide();
  $('.section-title[data-for="itd-advanced"] .fa').removeClass('fa-minus').addClass('fa-plus');
});
</script>
</body>
</html>
