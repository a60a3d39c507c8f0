<?php
namespace FreePBX\modules\Bitrix\Dialplan;

/**
 * Which operator a channel belongs to, from the channel's name: the answering device's user
 * (AstDB DEVICE/<device>/user, so a user with several phones is one operator), or the exten of a
 * Local channel (a queue member Local/<ext>@from-queue, a follow-me number). Never EXTTOCALL: a
 * ring-all ring group or follow-me leaves it at its last member on every leg. PJSIP names its
 * channels PJSIP/<endpoint>-<8 hex>, so the name carries the endpoint exactly; it is also the
 * one form that works for a channel other than the current one (DIALEDPEERNAME at hangup).
 *
 *   asterisk -rx "dialplan show itd-bitrix-operator"
 */
class OperatorSubroutine
{
    const CONTEXT = 'itd-bitrix-operator';

    /**
     * ARG1: a channel name (PJSIP/101-0000000a, SIP/…, IAX2/101-7, Local/101@from-queue-0000001c;1).
     * Leaves the operator's extension in BITRIX_OPERATOR.
     *
     *   [itd-bitrix-operator]
     *   exten => s,1,Set(BITRIX_OPERATOR=${CUT(ARG1,/,2)})
     *   exten => s,n,GotoIf($["${CUT(ARG1,/,1)}"="Local"]?local)
     *   exten => s,n,ExecIf($[${FIELDQTY(BITRIX_OPERATOR,-)}>1]?Set(BITRIX_OPERATOR=${CUT(BITRIX_OPERATOR,-,1-$[${FIELDQTY(BITRIX_OPERATOR,-)}-1])}))
     *   exten => s,n,Set(BITRIX_DEVICE_USER=${DB(DEVICE/${BITRIX_OPERATOR}/user)})
     *   exten => s,n,ExecIf($["${BITRIX_DEVICE_USER}"!="" & "${BITRIX_DEVICE_USER}"!="none"]?Set(BITRIX_OPERATOR=${BITRIX_DEVICE_USER}))
     *   exten => s,n,Return()
     *   exten => s,n(local),Set(BITRIX_OPERATOR=${CUT(BITRIX_OPERATOR,@,1)})
     *   exten => s,n,Return()
     */
    public static function add($ext)
    {
        $c = self::CONTEXT;
        $op = Facts::OPERATOR;
        $ext->addSectionNoCustom($c, true);
        $ext->add($c, 's', '', new \ext_set($op, '${CUT(ARG1,/,2)}'));
        $ext->add($c, 's', '', new \ext_gotoif('$["${CUT(ARG1,/,1)}"="Local"]', 'local'));
        // <device>-<sequence>: everything before the last dash.
        $ext->add($c, 's', '', new \ext_execif('$[${FIELDQTY(' . $op . ',-)}>1]', 'Set',
            $op . '=${CUT(' . $op . ',-,1-$[${FIELDQTY(' . $op . ',-)}-1])}'));
        $ext->add($c, 's', '', new \ext_set('BITRIX_DEVICE_USER', '${DB(DEVICE/${' . $op . '}/user)}'));
        $ext->add($c, 's', '', new \ext_execif('$["${BITRIX_DEVICE_USER}"!="" & "${BITRIX_DEVICE_USER}"!="none"]', 'Set',
            $op . '=${BITRIX_DEVICE_USER}'));
        $ext->add($c, 's', '', new \ext_return(''));
        $ext->add($c, 's', 'local', new \ext_set($op, '${CUT(' . $op . ',@,1)}'));
        $ext->add($c, 's', '', new \ext_return(''));
    }
}
