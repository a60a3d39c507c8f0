<?php
/**
 * Status: whether this PBX can run the AGI scripts (the self-test, asked for by the page script),
 * the last exchanges with Bitrix24, the outbox by state with what waits for its next attempt,
 * what the last Apply Config could not hook into the dialplan, and recent calls (bootstrap-table,
 * escaped). In scope: $status, $outbox (OutboxStatus::read() or null), $dialplanProblems
 * (string[]), $h, $fmtTime.
 */
$badge = function ($n, $danger) use ($h) {
    if ($n === null) {
        return '—';
    }
    return '<span class="badge' . ($danger && $n > 0 ? ' itd-bitrix-badge-danger' : '') . '">' . $h((int)$n) . '</span>';
};
$stepNames = ['register' => _('register the call'), 'finish' => _('finish the call'), 'attach' => _('attach the recording')];
?>
<div class="section-title" data-for="itd-status">
    <h3><i class="fa fa-minus"></i> <?php echo $h(_('Status')); ?></h3>
</div>
<div class="section itd-bitrix-status" data-id="itd-status">
    <table class="table table-condensed">
        <tbody>
        <tr>
            <th><?php echo $h(_('Runtime on this PBX')); ?></th>
            <td><span id="itd-bitrix-selftest" class="text-muted" aria-live="polite"><?php echo $h(_('Checking Node.js and SQLite…')); ?></span></td>
        </tr>
        </tbody>
    </table>
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
<?php if (!empty($status['redirectHost']) && is_string($status['redirectHost'])) { ?>
    <div class="alert alert-danger"><?php echo $h(sprintf(_('The portal redirects to %s: put its new address in the settings above. Until then the steps are held.'), $status['redirectHost'])); ?></div>
<?php } ?>
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
<?php if ($outbox) { ?>
                <tr>
                    <th><?php echo $h(_('Oldest waiting since')); ?></th>
                    <td><?php echo $outbox['oldestAt'] !== '' ? $fmtTime($outbox['oldestAt']) : '—'; ?></td>
                </tr>
                <tr>
                    <th><?php echo $h(_('Next attempt')); ?></th>
                    <td><?php echo $outbox['nextAttemptAt'] !== '' ? $fmtTime($outbox['nextAttemptAt']) : '—'; ?></td>
                </tr>
<?php } ?>
                </tbody>
            </table>
        </div>
<?php if ($outbox) { ?>
        <div class="col-md-6">
            <table class="table table-condensed itd-bitrix-outbox">
                <thead>
                <tr>
                    <th><?php echo $h(_('Not yet in Bitrix24')); ?></th>
                    <th class="itd-bitrix-count"><?php echo $h(_('Calls')); ?></th>
                    <th class="itd-bitrix-count"><?php echo $h(_('Steps')); ?></th>
                </tr>
                </thead>
                <tbody>
<?php foreach ([
        'due' => [_('Due: sent by the next retry run'), false],
        'waiting' => [_('Waiting for their next attempt'), false],
        'held' => [_('Held until the credentials or the portal address change'), true],
        'givenUp' => [_('Given up: too old, not sent'), true],
    ] as $state => $row) { ?>
                <tr>
                    <th><?php echo $h($row[0]); ?></th>
                    <td><?php echo $badge($outbox['calls'] === null ? null : $outbox['calls'][$state], $row[1]); ?></td>
                    <td><?php echo $badge($outbox['steps'][$state], $row[1]); ?></td>
                </tr>
<?php } ?>
                </tbody>
            </table>
        </div>
<?php } ?>
    </div>
<?php if ($outbox && $outbox['waiting']) { ?>
    <h4><?php echo $h(_('Waiting for their next attempt')); ?></h4>
    <table class="table table-condensed table-striped itd-bitrix-waiting">
        <thead>
        <tr>
            <th><?php echo $h(_('Call (uniqueid)')); ?></th>
            <th><?php echo $h(_('Step')); ?></th>
            <th><?php echo $h(_('Attempts')); ?></th>
            <th><?php echo $h(_('Next attempt')); ?></th>
            <th><?php echo $h(_('Last error')); ?></th>
        </tr>
        </thead>
        <tbody>
<?php foreach ($outbox['waiting'] as $w) { ?>
        <tr>
            <td><?php echo $h($w['uniqueid']); ?></td>
            <td><?php echo $h(isset($stepNames[$w['step']]) ? $stepNames[$w['step']] : $w['step']); ?></td>
            <td><?php echo $h($w['attempts']); ?></td>
            <td><?php echo $fmtTime($w['nextAttemptAt']); ?></td>
            <td><?php echo $w['lastError'] !== '' ? $h($w['lastError']) : '—'; ?></td>
        </tr>
<?php } ?>
        </tbody>
    </table>
<?php } ?>
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
