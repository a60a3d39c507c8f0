<?php
/**
 * Settings page. Variables: $sections (field table), $values, $errors, $messages, $routes,
 * $status (status --json or ['error' => …]), $dialplanProblems (string[]), $oauthReturnUrl, $i18n,
 * $more (more sections, HTML escaped by their own views).
 * Every value is escaped here, at output.
 */
$h = function ($v) {
    return htmlspecialchars((string)$v, ENT_QUOTES, 'UTF-8');
};
$fmtTime = function ($iso) use ($h) {
    if (!is_string($iso) || $iso === '') {
        return $h(_('never'));
    }
    $t = strtotime($iso);
    return $h($t ? date('Y-m-d H:i:s', $t) : $iso);
};
$authMode = isset($values['authMode']) ? $values['authMode'] : 'webhook';
?>
<div class="container-fluid itd-bitrix">
    <h1><?php echo $h(_('Bitrix24 Integration')); ?></h1>
<?php foreach ($messages as $m) { ?>
    <div class="alert alert-<?php echo $h($m['type']); ?>" role="alert"><?php echo $h($m['text']); ?></div>
<?php } ?>
    <div class="well well-info">
        <?php echo $h(_('Inbound calls to the DIDs listed below are reported to Bitrix24: the caller\'s name comes from the CRM before the call rings, the call card pops up for the operator who answers, and the finished call with its recording lands in the CRM.')); ?>
        <?php echo $h(_('Outgoing calls can be reported too, and a click on a number in Bitrix24 can ring the user\'s desk phone and then the number (click-to-call): see their sections.')); ?>
    </div>
    <div class="display full-border">
        <div class="row">
            <div class="col-sm-12">
                <div class="fpbx-container">
                    <form class="fpbx-submit" name="itdbitrix" id="itdbitrix" method="post" action="?display=itdbitrix"
                          data-i18n="<?php echo $h(json_encode($i18n)); ?>">
                        <input type="hidden" name="action" value="save">
<?php foreach ($sections as $sectionId => $section) { ?>
                        <div class="section-title" data-for="itd-<?php echo $h($sectionId); ?>">
                            <h3><i class="fa fa-minus"></i> <?php echo $h($section['title']); ?></h3>
                        </div>
                        <div class="section" data-id="itd-<?php echo $h($sectionId); ?>">
<?php
    foreach ($section['fields'] as $field) {
        include __DIR__ . '/field.php';
    }
    if ($sectionId === 'connection') {
        include __DIR__ . '/connection-actions.php';
    }
?>
                        </div>
<?php } ?>
                    </form>
<?php echo $more; ?>
<?php include __DIR__ . '/status.php'; ?>
                </div>
            </div>
        </div>
    </div>
</div>
