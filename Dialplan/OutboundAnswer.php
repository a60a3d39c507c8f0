<?php
namespace FreePBX\modules\Bitrix\Dialplan;

/**
 * Runs on the trunk's channel when the far end answers an outgoing call (Dial's U() option, set
 * by the outbound subroutine): stamps the answer time on the calling channel, where the outgoing
 * hangup step reads it. Talk time counts from here, so ringing and, for a click-to-call, the
 * agent's own leg are never counted.
 *
 *   asterisk -rx "dialplan show itd-bitrix-out-answer"
 */
class OutboundAnswer
{
    const CONTEXT = 'itd-bitrix-out-answer';

    /**
     *   [itd-bitrix-out-answer]
     *   exten => s,1,Set(SHARED(BITRIX_OUT_ANSWER,${BITRIX_OUT_CHANNEL})=${STRFTIME(,,%s.%3q)})
     *   exten => s,n,Return()
     */
    public static function add($ext)
    {
        $c = self::CONTEXT;
        $ext->addSectionNoCustom($c, true);
        $ext->add($c, 's', '', new \ext_set('SHARED(BITRIX_OUT_ANSWER,${BITRIX_OUT_CHANNEL})', '${STRFTIME(,,%s.%3q)}'));
        $ext->add($c, 's', '', new \ext_return(''));
    }
}
