<?php
/**
 * The responsible-manager destinations, a section of the settings page (outside its form).
 * Variables: $rows (destinations with fallbackText, editUrl), $addUrl. Escaped here.
 */
$h = function ($v) {
    return htmlspecialchars((string)$v, ENT_QUOTES, 'UTF-8');
};
$yes = function ($flag, $text) use ($h) {
    return $flag ? '<li>' . $h($text) . '</li>' : '';
};
?>
<div class="section-title" data-for="itd-responsible">
    <h3><i class="fa fa-minus"></i> <?php echo $h(_('Responsible manager destinations')); ?></h3>
</div>
<div class="section itd-bitrix-responsible" data-id="itd-responsible">
    <p class="text-muted"><?php echo $h(_('A caller whose number is in the CRM rings their responsible manager first; when the manager does not take the call, it goes on to the fallback. Choose these destinations in inbound routes, IVRs, time conditions or as a queue\'s fail-over, under "Bitrix24: responsible manager". The number must be on a reported DID.')); ?></p>
<?php if ($rows) { ?>
    <table class="table table-condensed table-striped">
        <thead>
        <tr>
            <th><?php echo $h(_('Name')); ?></th>
            <th><?php echo $h(_('Ring time')); ?></th>
            <th><?php echo $h(_('Skipped when')); ?></th>
            <th><?php echo $h(_('Fallback')); ?></th>
            <th></th>
        </tr>
        </thead>
        <tbody>
<?php foreach ($rows as $r) { ?>
        <tr>
            <td><?php echo $h($r['description']); ?></td>
            <td><?php echo $h(sprintf(_('%d s'), $r['ringTime'])); ?></td>
            <td><ul class="list-unstyled"><?php echo $yes($r['honourDnd'], _('Do Not Disturb')) . $yes($r['skipBusy'], _('busy')) . $yes($r['workdayOnly'], _('workday not open')); ?></ul></td>
            <td><?php echo $h($r['fallbackText']); ?></td>
            <td><a href="<?php echo $h($r['editUrl']); ?>"><i class="fa fa-edit"></i> <?php echo $h(_('Edit')); ?></a></td>
        </tr>
<?php } ?>
        </tbody>
    </table>
<?php } ?>
    <a class="btn btn-default" href="<?php echo $h($addUrl); ?>"><i class="fa fa-plus"></i> <?php echo $h(_('Add destination')); ?></a>
</div>
