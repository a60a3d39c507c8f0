<?php
namespace FreePBX\modules\Bitrix\Dialplan;

/**
 * Something a hook could not place on this PBX, and what it costs the admin. Kept as a kind and
 * its arguments (stored until the next reload), worded when shown: on the settings page in the
 * admin's language, in the log and the FreePBX notification in the reload's.
 */
class Problem
{
    /** An inbound route of a listed DID without a label to call the inbound subroutine from. */
    const ROUTE = 'route';
    /** Neither macro-auto-blkvm nor sub-auto-blkvm: no answer hook for ring groups, follow-me, queues. */
    const ANSWER_HOOK = 'answerhook';
    /** A queue whose Queue() line does not pass ${QGOSUB} where this Asterisk reads the member gosub. */
    const QUEUE_GOSUB = 'queuegosub';
    /** A queue without the qgosub label to chain the member gosub at. */
    const QUEUE_LABEL = 'queuelabel';
    /** macro-dial-one without its dialapp label: no hook on a call dialled straight to an extension. */
    const DIRECT_HOOK = 'directhook';
    /** No func-apply-sipheaders (the pre-dial subroutine of every FreePBX Dial): cards pop on answer only. */
    const RINGING_HOOK = 'ringinghook';

    /** @var string */
    public $kind;
    /** @var string[] */
    public $args;

    public function __construct($kind, array $args = [])
    {
        $this->kind = (string)$kind;
        $this->args = array_map('strval', array_values($args));
    }

    /** @return array as stored in the kvstore */
    public function toArray()
    {
        return ['kind' => $this->kind, 'args' => $this->args];
    }

    /** @return Problem|null one stored by toArray() */
    public static function fromArray($a)
    {
        if (!is_array($a) || !isset($a['kind']) || !is_string($a['kind'])) {
            return null;
        }
        return new self($a['kind'], isset($a['args']) && is_array($a['args']) ? $a['args'] : []);
    }

    /** What happens to calls, for the admin. */
    public function text()
    {
        $a = $this->args + ['', '', ''];
        switch ($this->kind) {
            case self::ROUTE:
                return sprintf(_('Inbound route %1$s (%2$s) has no did-cid-hook label: its calls are not reported to Bitrix24.'), $a[0], $a[1]);
            case self::ANSWER_HOOK:
                return _('Neither macro-auto-blkvm nor sub-auto-blkvm is in the dialplan: no call card pops up when a ring group or follow-me call is answered (the operator is taken from the dial result when the call ends), and queue answers are reported only where the queue member gosub is in place.');
            case self::QUEUE_GOSUB:
                return sprintf(_('Queue %1$s: FreePBX passes the member gosub to Queue() in a place Asterisk %2$s does not read. Update the Queues module. Until then the call card pops up for the member who picks up first, who may not be the one the queue connects.'), $a[0], $a[1]);
            case self::QUEUE_LABEL:
                return sprintf(_('Queue %s has no qgosub label to add the member gosub at. Until the Queues module writes it, the call card pops up for the member who picks up first, who may not be the one the queue connects.'), $a[0]);
            case self::DIRECT_HOOK:
                return _('macro-dial-one has no dialapp label: a call put straight through to an extension gets no call card; its operator and talk time come from the dial result when the call ends (the talk time then includes an IVR or announcement before it).');
            case self::RINGING_HOOK:
                return _('func-apply-sipheaders is not in the dialplan: the call card pops up for the operator who answers, not while the phones ring.');
            default:
                return $this->kind;
        }
    }

    /** The notification a problem of this kind belongs to: [id, title]. */
    public function notification()
    {
        switch ($this->kind) {
            case self::ROUTE:
                return ['DIALPLAN_ROUTES', _('Bitrix24: some inbound routes are not reported')];
            case self::ANSWER_HOOK:
                return ['DIALPLAN_ANSWER', _('Bitrix24: no answer hook in the dialplan')];
            case self::QUEUE_GOSUB:
            case self::QUEUE_LABEL:
                return ['DIALPLAN_QUEUES', _('Bitrix24: queue answers need the Queues module updated')];
            case self::RINGING_HOOK:
                return ['DIALPLAN_RINGING', _('Bitrix24: no call card while the phones ring')];
            default:
                return ['DIALPLAN_DIRECT', _('Bitrix24: no hook for calls put straight through to an extension')];
        }
    }

    /** Every notification id the problems may use (all are cleared when none is left). */
    public static function notificationIds()
    {
        return ['DIALPLAN_ROUTES', 'DIALPLAN_ANSWER', 'DIALPLAN_QUEUES', 'DIALPLAN_DIRECT', 'DIALPLAN_RINGING'];
    }
}
