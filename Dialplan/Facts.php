<?php
namespace FreePBX\modules\Bitrix\Dialplan;

/**
 * The channel variables in which Asterisk itself records what happened on a reported call, before
 * any of our processes runs (README "Dialplan contract"). The AGI steps only read them.
 */
class Facts
{
    /** Inherited: the inbound channel's uniqueid, the call's key. Set: the call is ours. */
    const MARKER = 'BITRIX_UNIQUEID';
    /** Inherited: the inbound channel's name, where answer facts are written (SHARED). */
    const CHANNEL = 'BITRIX_CHANNEL';
    /** On the inbound channel: when the call reached the module, epoch seconds with milliseconds. */
    const STARTED = 'BITRIX_STARTED';
    /** On the inbound channel, in its hangup handler: when the call ended. */
    const ENDED = 'BITRIX_ENDED';
    /** SHARED on the inbound channel: "<extension>@<epoch.ms>" of the first answer. */
    const ANSWER = 'BITRIX_ANSWER';
    /**
     * SHARED on the inbound channel: "<extension>@<epoch.ms>" of the operator who has the customer
     * now, when the call moved after its first answer (a blind transfer's answer, written by the
     * answer subroutine; an attended transfer, written by the resident service through AMI). The
     * last one wins; talk time still starts at BITRIX_ANSWER.
     */
    const LAST_OPERATOR = 'BITRIX_LAST_OPERATOR';
    /**
     * Inherited from the channel macro-dial-one runs on: "blind" when it runs because of a blind
     * transfer (Asterisk's BLINDTRANSFER), "consult" on the consultation leg of an attended
     * transfer (ATTENDEDTRANSFER, set with TRANSFERERNAME on the Local channel `*2` creates).
     */
    const TRANSFER = 'BITRIX_XFER';
    /** Where a subroutine leaves the operator's extension it worked out. */
    const OPERATOR = 'BITRIX_OPERATOR';
    /** Inherited: the member gosub the queue had before ours, run after ours. */
    const QUEUE_NEXT_GOSUB = 'BITRIX_QGOSUB';
    /** Inherited: the queue whose member gosub is ours (its members skip the answer macro hook). */
    const QUEUE_HOOKED = 'BITRIX_QHOOK';
    /** Inherited: the resident service took the call's incoming step; its phones get the card as they ring (RingingHook). */
    const RINGING = 'BITRIX_RINGING';
    /** Now, epoch seconds with milliseconds (${EPOCH} has whole seconds only). */
    const NOW = '${STRFTIME(,,%s.%3q)}';

    /** ${SHARED(BITRIX_ANSWER,${BITRIX_CHANNEL})}: the answer fact as any channel of the call reads it. */
    public static function answerOfCall()
    {
        return 'SHARED(' . self::ANSWER . ',${' . self::CHANNEL . '})';
    }

    /** ${SHARED(BITRIX_LAST_OPERATOR,${BITRIX_CHANNEL})}: the last operator as any channel of the call reads it. */
    public static function lastOperatorOfCall()
    {
        return 'SHARED(' . self::LAST_OPERATOR . ',${' . self::CHANNEL . '})';
    }
}
