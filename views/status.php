<?php
/**
 * Status: last exchanges with Bitrix24, the outbox, and recent calls (bootstrap-table, escaped).
 * In scope: $status, $dialplanProblems, $h, $fmtTime.
 */
$outbox = isset($status['outbox']) && is_array($status['outbox']) ? $status['outbox'] : null;
?>
<div class="section-title" data-for="itd-status">
    <h3><i class="fa fa-minus"></i> <?php echo $h(_('Status')); ?></h3>
</div>
<div class="section itd-bitrix-status" data-id="itd-status">
<?php if (!empty($dialplanProblems)) { ?>
    <div class="alert alert-warning itd-bitrix-dialplan-problems">
        <strong><?php echo $h(_('The dialplan of the last Apply Config could not be hooked everywhere:')); ?></strong>
        <ul>
<?php foreach ($dialplanProblems as $text) { ?>
            <li><?php echo $h($text); ?></li>
<?php } ?>
        </ul>
    </div>
<?php } ?>
<?php if (isset($status['error'])) { ?>
    <div class="alert alert-warning"><?php echo $h($status['error']); ?></div>
<?php } else { ?>
    <div class="row">
        <div class="col-md-6">
            <table class="table table-condensed">
                <tbody>
                <tr>
                    <th><?php echo $h(_('Last successful exchange')); ?></th>
                    <td class="text-success"><?php echo $fmtTime(isset($status['lastSuccessAt']) ? $status['lastSuccessAt'] : null); ?></td>
                </tr>
                <tr>
                    <th><?php echo $h(_('Last failure')); ?></th>
                    <td class="<?php echo empty($status['lastErrorAt']) ? '' : 'text-danger'; ?>">
                        <?php echo $fmtTime(isset($status['lastErrorAt']) ? $status['lastErrorAt'] : null); ?>
<?php if (!empty($status['lastError'])) { ?>
                        <br><small><?php echo $h($status['lastError']); ?></small>
<?php } ?>
                    </td>
                </tr>
                </tbody>
            </table>
        </div>
        <div class="col-md-6">
            <table class="table table-condensed">
                <tbody>
                <tr>
                    <th><?php echo $h(_('Waiting to be sent')); ?></th>
                    <td><span class="badge"><?php echo $h($outbox ? (int)$outbox['pending'] : 0); ?></span></td>
                </tr>
<?php if ($outbox && isset($outbox['blocked'])) { ?>
                <tr>
                    <th><?php echo $h(_('Held until the credentials are fixed')); ?></th>
                    <td><span class="badge<?php echo (int)$outbox['blocked'] > 0 ? ' itd-bitrix-badge-danger' : ''; ?>"><?php echo $h((int)$outbox['blocked']); ?></span></td>
                </tr>
<?php } ?>
                <tr>
                    <th><?php echo $h(_('Given up')); ?></th>
                    <td><span class="badge<?php echo $outbox && (int)$outbox['failed'] > 0 ? ' itd-bitrix-badge-danger' : ''; ?>"><?php echo $h($outbox ? (int)$outbox['failed'] : 0); ?></span></td>
                </tr>
                <tr>
                    <th><?php echo $h(_('Oldest waiting since')); ?></th>
                    <td><?php echo $outbox && !empty($outbox['oldestAt']) ? $fmtTime($outbox['oldestAt']) : '—'; ?></td>
                </tr>
                </tbody>
            </table>
        </div>
    </div>
<?php } ?>
    <h4><?php echo $h(_('Recent calls')); ?></h4>
    <table id="itd-bitrix-calls" class="table table-striped"
           data-toggle="table" data-url="ajax.php?module=bitrix&amp;command=calls" data-cache="false"
           data-escape="true" data-pagination="true" data-page-size="10" data-search="true"
           data-sort-name="startedAt" data-sort-order="desc">
        <thead>
        <tr>
            <th data-field="startedAt" data-sortable="true"><?php echo $h(_('Started')); ?></th>
            <th data-field="callerNumber" data-sortable="true"><?php echo $h(_('Caller')); ?></th>
            <th data-field="did" data-sortable="true"><?php echo $h(_('DID')); ?></th>
            <th data-field="operatorExtension" data-sortable="true"><?php echo $h(_('Operator')); ?></th>
            <th data-field="answeredAt"><?php echo $h(_('Answered')); ?></th>
            <th data-field="finishedAt"><?php echo $h(_('Finished')); ?></th>
            <th data-field="status"><?php echo $h(_('Result')); ?></th>
            <th data-field="state"><?php echo $h(_('State')); ?></th>
            <th data-field="bitrixCallId"><?php echo $h(_('Bitrix24 call ID')); ?></th>
        </tr>
        </thead>
    </table>
</div>
