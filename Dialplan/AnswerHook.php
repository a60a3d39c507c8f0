<?php
namespace FreePBX\modules\Bitrix\Dialplan;

/**
 * An operator answered a queue or ring-group call: FreePBX runs macro-auto-blkvm on the
 * answering phone's channel, and there our subroutine runs the show step (the call card) for
 * the operator's extension. Queue members' extensions are captured in from-queue, on the
 * member's Local channel, and inherited by the phone's channel.
 *
 *   asterisk -rx "dialplan show s@macro-auto-blkvm"
 *   asterisk -rx "dialplan show from-queue"
 *   asterisk -rx "dialplan show itd-bitrix-answer"
 */
class AnswerHook
{
    const CONTEXT = 'itd-bitrix-answer';
    const MACRO = 'macro-auto-blkvm';
    /** from-queue's exten: _. on FreePBX 16, _X. on 17; only an existing one is touched. */
    const FROM_QUEUE_EXTENS = ['_.', '_X.'];

    /**
     *   [itd-bitrix-answer]
     *   exten => s,1,AGI(itd_bitrix_show.js,${ARG1})
     *   exten => s,n,Return()
     *
     *   [from-queue]
     *   exten => _X.,1,Set(__BITRIX_AGENT=${EXTEN})
     *
     *   [macro-auto-blkvm]
     *   exten => s,n,GosubIf($["${BITRIX_UNIQUEID}"!=""]?itd-bitrix-answer,s,1(${IF($["${BITRIX_AGENT}"!=""]?${BITRIX_AGENT}:${EXTTOCALL})}))
     *   exten => s,n,Return()
     *
     * @return string[] problems
     */
    public static function add($ext, AgiStep $agi)
    {
        $c = self::CONTEXT;
        $ext->addSectionNoCustom($c, true);
        $agi->add($ext, $c, 's', 'show', '${ARG1}');
        $ext->add($c, 's', '', new \ext_return(''));

        foreach (self::FROM_QUEUE_EXTENS as $fq) {
            if (Splice::extenExists($ext, 'from-queue', $fq)) {
                Splice::normaliseExten($ext, 'from-queue', $fq);
                $ext->splice('from-queue', $fq, 0, new \ext_set('__BITRIX_AGENT', '${EXTEN}'));
            }
        }
        if (!Splice::extenExists($ext, self::MACRO, 's')) {
            return [self::MACRO . ',s not found; the call card will not be shown on answer'];
        }
        // Only calls the incoming step handled carry BITRIX_UNIQUEID; ring groups fall back to EXTTOCALL.
        Splice::beforeReturn($ext, self::MACRO, 's', new \ext_gosubif('$["${BITRIX_UNIQUEID}"!=""]', $c . ',s,1', false,
            '${IF($["${BITRIX_AGENT}"!=""]?${BITRIX_AGENT}:${EXTTOCALL})}'));
        return [];
    }
}
