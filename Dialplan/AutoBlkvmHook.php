<?php
namespace FreePBX\modules\Bitrix\Dialplan;

/**
 * Ring groups, follow-me and queue members: FreePBX dials them with U(macro-auto-blkvm) (a core
 * branch names it sub-auto-blkvm), which runs on the answering phone's channel. Of a ring-all
 * Dial only the leg that won runs it; of a queue, every member whose phone picks up runs it,
 * before the queue has chosen one. So members of a queue whose member gosub is ours
 * (QueueHook: BITRIX_QHOOK is that queue, NODEST on the member's legs) are left to that gosub;
 * everything else records its answer here, and so does a blind transfer's target dialled from
 * such a member's Local leg (BITRIX_XFER "blind": Queue() is not involved any more).
 *
 *   asterisk -rx "dialplan show s@macro-auto-blkvm"
 *   asterisk -rx "dialplan show s@sub-auto-blkvm"
 */
class AutoBlkvmHook
{
    /** The names FreePBX core branches give the subroutine; each that exists gets the hook. */
    const SUBROUTINES = ['macro-auto-blkvm', 'sub-auto-blkvm'];

    /**
     *   [macro-auto-blkvm]
     *   exten => s,n,GosubIf($["${BITRIX_UNIQUEID}"!="" & ("${FROMQ}"!="true" | "${BITRIX_QHOOK}"!="${NODEST}" | "${BITRIX_XFER}"="blind")]?itd-bitrix-answered,s,1())
     *   exten => s,n,Return()
     *
     * @return Problem[]
     */
    public static function add($ext)
    {
        $placed = 0;
        foreach (self::SUBROUTINES as $sub) {
            if (!Splice::extenExists($ext, $sub, 's')) {
                continue;
            }
            Splice::beforeReturn($ext, $sub, 's', self::line());
            $placed++;
        }
        return $placed > 0 ? [] : [new Problem(Problem::ANSWER_HOOK)];
    }

    private static function line()
    {
        $ours = '"${' . Facts::MARKER . '}"!=""';
        $notLeftToQueueGosub = '("${FROMQ}"!="true" | "${' . Facts::QUEUE_HOOKED . '}"!="${NODEST}" | "${' . Facts::TRANSFER . '}"="blind")';
        return new \ext_gosubif('$[' . $ours . ' & ' . $notLeftToQueueGosub . ']', AnswerSubroutine::CONTEXT . ',s,1', false, '');
    }
}
