<?php
namespace FreePBX\modules\Bitrix\Dialplan;

/**
 * Cards while the phones ring (cardMode "ringing", through the resident service only). Every Dial
 * FreePBX writes (dial-one, ring groups of every strategy, hunt, follow-me, queue members' own
 * Dial, trunks) carries b(func-apply-sipheaders^s^1): Asterisk runs that subroutine on each
 * outgoing channel before calling it. At its start a reported call's leg to a person's phone (a
 * device with a user; not a Local channel, whose own Dial comes later, nor a trunk) tells the
 * service it rings and pushes a handler that tells it when the leg goes away. The service ends
 * both sessions at once and sends the cards later; DND and unavailable members are never
 * dialled, so never shown. A service that did not take the call's incoming step is not asked.
 *
 *   asterisk -rx "dialplan show func-apply-sipheaders"
 *   asterisk -rx "dialplan show itd-bitrix-ringing"
 */
class RingingHook
{
    const CONTEXT = 'func-apply-sipheaders';
    const RING = 'itd-bitrix-ringing';
    const RING_END = 'itd-bitrix-ring-end';

    /**
     *   [func-apply-sipheaders]
     *   exten => s,1,GosubIf($["${BITRIX_RINGING}"!=""]?itd-bitrix-ringing,s,1())
     *   exten => s,n,Noop(Applying SIP Headers to channel ${CHANNEL})
     *
     *   [itd-bitrix-ringing]
     *   exten => s,1,GotoIf($["${CUT(CHANNEL(name),/,1)}"="Local" | "${SHARED(BITRIX_ANSWER,${BITRIX_CHANNEL})}"!=""]?done)
     *   exten => s,n,Gosub(itd-bitrix-operator,s,1(${CHANNEL(name)}))
     *   exten => s,n,GotoIf($["${BITRIX_DEVICE_USER}"="" | "${BITRIX_DEVICE_USER}"="none"]?done)
     *   exten => s,n,AGI(agi://127.0.0.1:4574/ring,${BITRIX_OPERATOR},${BITRIX_UNIQUEID},${BITRIX_CALL_ID})
     *   exten => s,n,ExecIf($["${AGISTATUS}"="SUCCESS"]?Set(CHANNEL(hangup_handler_push)=itd-bitrix-ring-end,s,1(${BITRIX_OPERATOR})))
     *   exten => s,n(done),Return()
     *
     *   [itd-bitrix-ring-end]
     *   exten => s,1,AGI(agi://127.0.0.1:4574/ringend,${ARG1},${BITRIX_UNIQUEID})
     *   exten => s,n,Return()
     *
     * @return Problem[] the subroutine is not there (cards then pop on answer only)
     */
    public static function add($ext, AgiStep $agi)
    {
        if (!$agi->hasService()) {
            return [];
        }
        if (!Splice::extenExists($ext, self::CONTEXT, 's')) {
            return [new Problem(Problem::RINGING_HOOK)];
        }
        Splice::normaliseExten($ext, self::CONTEXT, 's');
        $ext->splice(self::CONTEXT, 's', 0, new \ext_gosubif('$["${' . Facts::RINGING . '}"!=""]', self::RING . ',s,1', false, ''));

        $c = self::RING;
        $op = Facts::OPERATOR;
        $ext->addSectionNoCustom($c, true);
        // Answered already: a phone rung now is a transfer's, not this call's ringing.
        $ext->add($c, 's', '', new \ext_gotoif('$["${CUT(CHANNEL(name),/,1)}"="Local" | "${' . Facts::answerOfCall() . '}"!=""]', 'done'));
        $ext->add($c, 's', '', new \ext_gosub('1', 's', OperatorSubroutine::CONTEXT, '${CHANNEL(name)}'));
        $ext->add($c, 's', '', new \ext_gotoif('$["${BITRIX_DEVICE_USER}"="" | "${BITRIX_DEVICE_USER}"="none"]', 'done'));
        $agi->addServiceOnly($ext, $c, 's', 'ring', '${' . $op . '},${' . Facts::MARKER . '},${BITRIX_CALL_ID}');
        $ext->add($c, 's', '', new \ext_execif('$["${AGISTATUS}"="SUCCESS"]', 'Set',
            'CHANNEL(hangup_handler_push)=' . self::RING_END . ',s,1(${' . $op . '})'));
        $ext->add($c, 's', 'done', new \ext_return(''));

        $c = self::RING_END;
        $ext->addSectionNoCustom($c, true);
        $agi->addServiceOnly($ext, $c, 's', 'ringend', '${ARG1},${' . Facts::MARKER . '}');
        $ext->add($c, 's', '', new \ext_return(''));
        return [];
    }
}
