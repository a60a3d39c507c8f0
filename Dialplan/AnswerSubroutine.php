<?php
namespace FreePBX\modules\Bitrix\Dialplan;

/**
 * Someone answered a reported call: run on the answering channel by each answer hook (the
 * queue's member gosub, macro-auto-blkvm, our U() on a direct Dial) before the parties are
 * bridged. It records the answer on the inbound channel first (SHARED BITRIX_ANSWER:
 * "<extension>@<epoch.ms>", the first answer wins: talk time starts there), then runs the show
 * step for that operator only: a phone that lost the race to an answer already recorded starts
 * no process at all. The answer of a blind transfer's target (BITRIX_XFER "blind", TransferMark)
 * is not a racing phone: it becomes the call's last operator (SHARED BITRIX_LAST_OPERATOR, last
 * wins; the call is finished in their name) and gets the card. The consultation leg of an
 * attended transfer ("consult") records nothing and shows nothing: the transfer may never
 * complete (AMI AttendedTransfer tells the resident service when it does).
 *
 *   asterisk -rx "dialplan show itd-bitrix-answered"
 */
class AnswerSubroutine
{
    const CONTEXT = 'itd-bitrix-answered';

    /**
     * ARG1: the operator's extension when the hook knows it (direct Dial: DEXTEN; queue member:
     * from-queue's exten); else it is worked out from this channel (OperatorSubroutine).
     *
     *   [itd-bitrix-answered]
     *   exten => s,1,GotoIf($["${BITRIX_XFER}"="consult"]?done)
     *   exten => s,n,Set(BITRIX_OPERATOR=${ARG1})
     *   exten => s,n,GosubIf($["${BITRIX_OPERATOR}"=""]?itd-bitrix-operator,s,1(${CHANNEL(name)}))
     *   exten => s,n,ExecIf($["${SHARED(BITRIX_ANSWER,${BITRIX_CHANNEL})}"=""]?Set(SHARED(BITRIX_ANSWER,${BITRIX_CHANNEL})=${BITRIX_OPERATOR}@${STRFTIME(,,%s.%3q)}))
     *   exten => s,n,ExecIf($["${BITRIX_XFER}"="blind"]?Set(SHARED(BITRIX_LAST_OPERATOR,${BITRIX_CHANNEL})=${BITRIX_OPERATOR}@${STRFTIME(,,%s.%3q)}))
     *   exten => s,n,Set(BITRIX_ANSWER_SEEN=${SHARED(BITRIX_ANSWER,${BITRIX_CHANNEL})})
     *   exten => s,n,GotoIf($["${BITRIX_XFER}"!="blind" & "${CUT(BITRIX_ANSWER_SEEN,@,1)}"!="${BITRIX_OPERATOR}"]?done)
     *   exten => s,n,AGI(itd_bitrix_show.js,${BITRIX_OPERATOR})
     *   exten => s,n(done),Return()
     */
    public static function add($ext, AgiStep $agi)
    {
        $c = self::CONTEXT;
        $op = Facts::OPERATOR;
        $answer = Facts::answerOfCall();
        $xfer = '"${' . Facts::TRANSFER . '}"';
        $ext->addSectionNoCustom($c, true);
        $ext->add($c, 's', '', new \ext_gotoif('$[' . $xfer . '="consult"]', 'done'));
        $ext->add($c, 's', '', new \ext_set($op, '${ARG1}'));
        $ext->add($c, 's', '', new \ext_gosubif('$["${' . $op . '}"=""]', OperatorSubroutine::CONTEXT . ',s,1', false, '${CHANNEL(name)}'));
        $ext->add($c, 's', '', new \ext_execif('$["${' . $answer . '}"=""]', 'Set', $answer . '=${' . $op . '}@' . Facts::NOW));
        $ext->add($c, 's', '', new \ext_execif('$[' . $xfer . '="blind"]', 'Set', Facts::lastOperatorOfCall() . '=${' . $op . '}@' . Facts::NOW));
        $ext->add($c, 's', '', new \ext_set('BITRIX_ANSWER_SEEN', '${' . $answer . '}'));
        $ext->add($c, 's', '', new \ext_gotoif('$[' . $xfer . '!="blind" & "${CUT(BITRIX_ANSWER_SEEN,@,1)}"!="${' . $op . '}"]', 'done'));
        $agi->add($ext, $c, 's', 'show', '${' . $op . '}');
        $ext->add($c, 's', 'done', new \ext_return(''));
    }
}
