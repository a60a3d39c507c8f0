<?php
/**
 * One element-container row of the settings form, from one entry of the field table.
 * In scope: $field, $values, $errors, $routes, $outRoutes, $authMode, $h.
 */
$key = $field['key'];
$id = 'itd_' . $key;
$value = isset($values[$key]) ? $values[$key] : '';
$error = isset($errors[$key]) ? $errors[$key] : null;
$group = isset($field['group']) ? $field['group'] : '';
$hidden = $group !== '' && $group !== $authMode;
$classes = 'element-container' . ($error !== null ? ' has-error' : '') . ($hidden ? ' hidden' : '');
ob_start();
?>
<?php if ($field['type'] === 'radio') {
    $options = isset($field['options']) ? $field['options'] : ['yes' => _('Yes'), 'no' => _('No')];
    $current = isset($field['options']) ? (string)$value : ($value ? 'yes' : 'no');
    $first = true;
?>
                    <div class="col-md-9 radioset">
<?php foreach ($options as $optValue => $optLabel) {
        $optId = $first ? $id . '_first' : $id . '_' . $optValue;
        $first = false;
?>
                        <input type="radio" name="<?php echo $h($key); ?>" id="<?php echo $h($optId); ?>" value="<?php echo $h($optValue); ?>"<?php echo (string)$optValue === $current ? ' checked' : ''; ?>>
                        <label for="<?php echo $h($optId); ?>"><?php echo $h($optLabel); ?></label>
<?php } ?>
<?php if ($key === 'clickToCall') { ?>
                        <p class="help-block text-warning itd-bitrix-needs-app<?php echo $authMode === 'webhook' ? '' : ' hidden'; ?>" data-itd-group="webhook">
                            <i class="fa fa-exclamation-triangle"></i> <?php echo $h(_('Click-to-call needs the local application: Bitrix24 hands the clicks only to an application (Connect above), never to a webhook. Everything else keeps working on the webhook.')); ?>
                        </p>
<?php } ?>
<?php } elseif ($field['type'] === 'routes') { ?>
                    <div class="col-md-9">
                        <input type="hidden" name="outgoingRoutesShown" value="1">
<?php if ($outRoutes) { ?>
                        <div class="itd-bitrix-routelist" id="<?php echo $h($id); ?>">
<?php foreach ($outRoutes as $r) { ?>
                            <div class="checkbox">
                                <label>
                                    <input type="checkbox" name="outgoingRoutes[]" value="<?php echo $h($r['id']); ?>"<?php echo in_array($r['id'], $values['outgoingRoutes'], true) ? ' checked' : ''; ?>>
                                    <?php echo $h($r['name'] !== '' ? $r['name'] : '#' . $r['id']); ?>
                                </label>
                            </div>
<?php } ?>
                        </div>
<?php } else { ?>
                        <p class="form-control-static text-muted" id="<?php echo $h($id); ?>"><?php echo $h(_('No outbound route yet.')); ?></p>
<?php } ?>
<?php } elseif ($field['type'] === 'rewrite') { ?>
                    <div class="col-md-9">
                        <textarea class="form-control" name="<?php echo $h($key); ?>" id="<?php echo $h($id); ?>" rows="3" placeholder="<?php echo $h($field['placeholder']); ?>"><?php echo $h($value); ?></textarea>
<?php } elseif ($field['type'] === 'select') { ?>
                    <div class="col-md-9">
                        <select class="form-control" name="<?php echo $h($key); ?>" id="<?php echo $h($id); ?>">
<?php foreach ($field['options'] as $optValue => $optLabel) { ?>
                            <option value="<?php echo $h($optValue); ?>"<?php echo (string)$optValue === (string)$value ? ' selected' : ''; ?>><?php echo $h($optLabel); ?></option>
<?php } ?>
                        </select>
<?php } elseif ($field['type'] === 'dids') { ?>
                    <div class="col-md-9">
<?php if ($routes) { ?>
                        <div class="itd-bitrix-didlist" id="<?php echo $h($id); ?>">
<?php foreach ($routes as $i => $r) { ?>
                            <div class="checkbox">
                                <label>
                                    <input type="checkbox" name="dids[]" value="<?php echo $h($r['did']); ?>"<?php echo in_array($r['did'], $values['didsPicked'], true) ? ' checked' : ''; ?>>
                                    <?php echo $h($r['did']); ?>
<?php if ($r['description'] !== '') { ?>
                                    <span class="text-muted">— <?php echo $h($r['description']); ?></span>
<?php } ?>
                                </label>
                            </div>
<?php } ?>
                        </div>
<?php } else { ?>
                        <p class="form-control-static text-muted" id="<?php echo $h($id); ?>"><?php echo $h(_('No inbound route has a DID yet; type the numbers below.')); ?></p>
<?php } ?>
                        <label class="control-label itd-bitrix-sublabel" for="itd_didsExtra"><?php echo $h(_('Other numbers, one per line')); ?></label>
                        <textarea class="form-control" name="didsExtra" id="itd_didsExtra" rows="3" placeholder="+74951234567"><?php echo $h($values['didsExtra']); ?></textarea>
<?php } else {
    $type = $field['type'] === 'password' ? 'password' : ($field['type'] === 'number' ? 'number' : 'text');
    $placeholder = isset($field['placeholder']) ? $field['placeholder'] : '';
    $saved = '';
    if ($key === 'webhookUrl' && $values['webhookUrlMasked'] !== '') {
        $placeholder = $values['webhookUrlMasked'];
        $saved = sprintf(_('Saved: %s — leave empty to keep it.'), $values['webhookUrlMasked']);
    } elseif ($key === 'appClientSecret' && $values['appClientSecretSet']) {
        $placeholder = \FreePBX\modules\Bitrix\Settings::MASK;
        $saved = _('A key is saved — leave empty to keep it.');
    }
?>
                    <div class="col-md-9">
                        <input type="<?php echo $type; ?>" class="form-control" name="<?php echo $h($key); ?>" id="<?php echo $h($id); ?>"
                               value="<?php echo $h(is_bool($value) ? ($value ? '1' : '0') : $value); ?>"
<?php if ($placeholder !== '') { ?>
                               placeholder="<?php echo $h($placeholder); ?>"
<?php } ?>
<?php if ($type === 'number') { ?>
                               <?php if ($field['min'] !== null) { ?>min="<?php echo $h($field['min']); ?>" <?php } ?><?php if ($field['max'] !== null) { ?>max="<?php echo $h($field['max']); ?>" <?php } ?>step="<?php echo $h(isset($field['step']) ? $field['step'] : '1'); ?>"
<?php } ?>
<?php if ($type === 'password') { ?>
                               autocomplete="new-password"
<?php } ?>
                        >
<?php if ($saved !== '') { ?>
                        <span class="help-block itd-bitrix-saved"><i class="fa fa-lock"></i> <?php echo $h($saved); ?></span>
<?php } ?>
<?php } ?>
<?php if ($error !== null) { ?>
                        <span class="help-block itd-bitrix-error"><?php echo $h($error); ?></span>
<?php } ?>
                    </div>
<?php
$row = [
    'id' => $id,
    'labelFor' => $field['type'] === 'radio' ? $id . '_first' : $id,
    'label' => $field['label'],
    'help' => $field['help'],
    'classes' => $classes,
    'group' => $group,
    'control' => ob_get_clean(),
];
include __DIR__ . '/row.php';
