<?php
/**
 * One responsible-manager destination. Variables: $dest, $errors, $messages, $usage (what uses
 * it), $fields (field table), $picker (FreePBX's destination picker, its own HTML), $deleteUrl,
 * $backUrl. Every value is escaped here, at output.
 */
$h = function ($v) {
    return htmlspecialchars((string)$v, ENT_QUOTES, 'UTF-8');
};
$values = $dest;
$routes = [];
$authMode = '';
?>
<div class="container-fluid itd-bitrix">
    <h1><?php echo $h($dest['id'] > 0 ? sprintf(_('Bitrix24 responsible manager: %s'), $dest['description']) : _('New responsible-manager destination')); ?></h1>
<?php foreach ($messages as $m) { ?>
    <div class="alert alert-<?php echo $h($m['type']); ?>" role="alert"><?php echo $h($m['text']); ?></div>
<?php } ?>
    <div class="well well-info">
        <?php echo $h(_('A call sent here rings the caller\'s responsible manager from the CRM (contact, else company, else lead), with voicemail held back, for the ring time; the manager who answers gets the call card. The call goes to the fallback at once when the number is not in the CRM, the caller is an employee, the manager is the default user or has no extension here, or a check below says so; and after the ring time, when the manager is busy or does not answer.')); ?>
    </div>
<?php if ($usage) { ?>
    <div class="alert alert-info"><?php echo $h(_('Used by:')); ?> <?php echo $h(implode('; ', $usage)); ?></div>
<?php } ?>
    <p><a href="<?php echo $h($backUrl); ?>"><i class="fa fa-arrow-left"></i> <?php echo $h(_('Back to the Bitrix24 settings')); ?></a></p>
    <div class="display full-border">
        <div class="row">
            <div class="col-sm-12">
                <div class="fpbx-container">
                    <form class="fpbx-submit" name="itdbitrixresp" id="itdbitrixresp" method="post" action="config.php?display=itdbitrix"<?php if ($deleteUrl !== '') { ?> data-fpbx-delete="<?php echo $h($deleteUrl); ?>"<?php } ?>>
                        <input type="hidden" name="action" value="saveResponsible">
                        <input type="hidden" name="id" value="<?php echo $h((int)$dest['id']); ?>">
<?php
foreach ($fields as $field) {
    include __DIR__ . '/field.php';
}
$error = isset($errors['fallback']) ? $errors['fallback'] : null;
$row = [
    'id' => 'goto0',
    'labelFor' => 'goto0',
    'label' => _('Fallback destination'),
    'help' => _('Where the call goes when there is no manager to ring, a check skips them, or they do not answer within the ring time: usually the queue or ring group that took these calls before.'),
    'classes' => 'element-container' . ($error !== null ? ' has-error' : ''),
    'group' => '',
    'control' => '                    <div class="col-md-9">' . $picker
        . ($error !== null ? '<span class="help-block itd-bitrix-error">' . $h($error) . '</span>' : '') . "</div>\n",
];
include __DIR__ . '/row.php';
?>
                    </form>
                </div>
            </div>
        </div>
    </div>
</div>
