<?php
/**
 * Status: whether this PBX can run the AGI scripts (the self-test, asked for by the page script),
 * the resident service, the last exchanges with Bitrix24, the outbox by state with what waits for
 * its next attempt, what the last Apply Config could not hook into the dialplan, and recent calls
 * (bootstrap-table, escaped). In scope: $status, $outbox (OutboxStatus::read() or null), $service
 * (ServiceStatus::read()), $dialplanProblems (string[]), $h, $fmtTime.
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
        <tr class="itd-bitrix-service">
            <th><?php echo $h(_('Resident service')); ?></th>
<?php if ($service['mode'] === 'unavailable') { ?>
            <td class="text-muted"><?php echo $h(_('Not used: the Process Management (pm2) module is not installed, so every call runs through the per-call AGI scripts.')); ?></td>
<?php } elseif ($service['mode'] === 'off') { ?>
            <td class="text-muted"><?php echo $h(_('Off in the settings: every call runs through the per-call AGI scripts.')); ?></td>
<?php } elseif ($service['state'] === 'unknown') { ?>
            <td class="text-muted"><?php echo $h(_('Unknown: the operator tool did not answer.')); ?></td>
<?php } elseif ($service['online']) { ?>
            <td class="text-success"><?php echo $h(sprintf(_('Online on port %1$d, up %2$s'), $service['port'], \FreePBX\modules\Bitrix\ServiceStatus::duration($service['uptimeSec']))); ?></td>
<?php } else { ?>
            <td class="text-danger"><?php echo $h(sprintf(_('Not running (%s): calls run through the per-call AGI scripts until it is back.'), $service['state'])); ?></td>
<?php } ?>
        </tr>
<?php if ($service['mode'] === 'on' && $service['startedAt'] !== '') { ?>
        <tr class="itd-bitrix-service">
            <th><?php echo $h(_('Call steps served')); ?></th>
            <td><?php echo $service['served'] === null ? '—' : $h($service['served']); ?></td>
        </tr>
        <tr class="itd-bitrix-service">
            <th><?php echo $h(_('Memory')); ?></th>
            <td><?php echo $service['rssMB'] === null ? '—' : $h(sprintf(_('%s MB'), $service['rssMB'])); ?></td>
        </tr>
        <tr class="itd-bitrix-service">
            <th><?php echo $h(_('Last restart')); ?></th>
            <td>
                <?php echo $fmtTime($service['startedAt']); ?>
<?php if ($service['previousStop'] !== null) { ?>
                <br><small class="<?php echo $service['previousStop']['clean'] ? 'text-muted' : 'text-danger'; ?>"><?php echo $h($service['previousStop']['clean']
                    ? _('the one before stopped cleanly') : _('the one before ended without stopping (killed or crashed)')); ?></small>
<?php } ?>
            </td>
        </tr>
<?php } ?>
<?php if ($service['mode'] === 'on' && $service['clickToCall'] !== null) { list($clickClass, $clickLine) = \FreePBX\modules\Bitrix\ServiceStatus::clickToCallLine($service['clickToCall']); ?>
        <tr class="itd-bitrix-service">
            <th><?php echo $h(_('Click-to-call')); ?></th>
            <td class="<?php echo $h($clickClass); ?>"><?php echo $h($clickLine); ?></td>
        </tr>
<?php } ?>
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
            <th data-field="directionText" data-sortable="true"><?php echo $h(_('Direction')); ?></th>
            <th data-field="callerNumber" data-sortable="true"><?php echo $h(_('Number')); ?></th>
            <th data-field="did" data-sortable="true"><?php echo $h(_('DID / route')); ?></th>
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
