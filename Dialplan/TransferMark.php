<?php
namespace FreePBX\modules\Bitrix\Dialplan;

/**
 * Whether a Dial of macro-dial-one (an extension) or macro-dial (a ring group, follow-me) runs
 * because of a transfer, for the answer hooks on the
 * answering phone (they cannot see the dialling channel's variables). Asterisk 20–22
 * (main/bridge.c ast_bridge_transfer_blind, set_transfer_variables_all; bridge_basic.c
 * dial_transfer; core_unreal.c ast_unreal_call_setup; bridge_channel.c):
 *   - blind (`##` or a phone's REFER): the transferee — the customer's channel, or a queue
 *     member's Local ;2 — gets BLINDTRANSFER=<transferer> and jumps to TRANSFER_CONTEXT
 *     (FreePBX: from-internal-xfer) → ext-local → macro-dial-one, or ext-group/ext-findmefollow
 *     → macro-dial;
 *   - attended by `*2`: the consultation call is a Local channel created from the operator's
 *     channel with ATTENDEDTRANSFER and TRANSFERERNAME set and the operator's inherited
 *     variables (our marker included); ;2 gets every variable of ;1 and runs macro-dial-one;
 *   - both are cleared when the channel next joins a bridge, so they are read here, before Dial.
 * A phone's own attended transfer (consult call + REFER/Replaces) runs no dialplan at all: only
 * AMI AttendedTransfer tells (the resident service follows it). A queue as the target of a blind
 * transfer is not marked (its member Local legs do not inherit BLINDTRANSFER).
 *
 *   asterisk -rx "dialplan show s@macro-dial-one"
 *   asterisk -rx "dialplan show s@macro-dial"
 */
class TransferMark
{
    /** Where it goes: before the label where each macro starts dialling. */
    const PLACES = ['macro-dial-one' => DirectDialHook::LABEL, 'macro-dial' => 'dial'];

    /**
     *   exten => s,n,ExecIf($["${BITRIX_UNIQUEID}"!=""]?Set(__BITRIX_XFER=${IF($["${BLINDTRANSFER}"!=""]?blind)}))
     *   exten => s,n,ExecIf($["${BITRIX_UNIQUEID}"!="" & "${ATTENDEDTRANSFER}"!=""]?Set(__BITRIX_XFER=consult))
     *   exten => s,n(dialapp),Noop()              (macro-dial: before s,n(dial))
     *
     * A macro without its label gets nothing (for macro-dial-one DirectDialHook reports it).
     */
    public static function add($ext)
    {
        $ours = '"${' . Facts::MARKER . '}"!=""';
        $var = '__' . Facts::TRANSFER;
        foreach (self::PLACES as $context => $label) {
            if (Splice::findLabel($ext, $context, 's', [$label]) === null) {
                continue;
            }
            Splice::normaliseExten($ext, $context, 's');
            // Set on every pass: a Dial that is no transfer (the first one, a failover) clears it.
            $ext->splice($context, 's', $label, new \ext_execif('$[' . $ours . ']', 'Set', $var . '=${IF($["${BLINDTRANSFER}"!=""]?blind)}'));
            $ext->splice($context, 's', $label, new \ext_execif('$[' . $ours . ' & "${ATTENDEDTRANSFER}"!=""]', 'Set', $var . '=consult'));
        }
    }
}
