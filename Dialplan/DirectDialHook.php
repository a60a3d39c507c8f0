<?php
namespace FreePBX\modules\Bitrix\Dialplan;

/**
 * A call put straight through to an extension (inbound route → extension, IVR → extension,
 * follow-me's own extension): FreePBX dials it in macro-dial-one without U(macro-auto-blkvm)
 * (it adds that only when NODEST is set, i.e. for queues and ring groups), so no answer hook
 * runs. Right before the Dial (label dialapp, FreePBX 16 and 17) a call we report gets our own
 * U(): the answer subroutine runs on the answering phone's channel with the dialled extension.
 * Where D_OPTIONS already has a U() (Dial takes one), the hangup handler reads the Dial results.
 *
 *   asterisk -rx "dialplan show s@macro-dial-one"
 */
class DirectDialHook
{
    const CONTEXT = 'macro-dial-one';
    const LABEL = 'dialapp';

    /**
     *   exten => s,n,ExecIf($["${BITRIX_UNIQUEID}"!="" & "${NODEST}"="" & "${DEXTEN:-1}"!="#" & ${REGEX("U[(].*[)]" ${D_OPTIONS})}=0]?Set(D_OPTIONS=${D_OPTIONS}U(itd-bitrix-answered^${DEXTEN})))
     *   exten => s,n(dialapp),Noop()
     *
     * @return Problem[]
     */
    public static function add($ext)
    {
        if (Splice::findLabel($ext, self::CONTEXT, 's', [self::LABEL]) === null) {
            return [new Problem(Problem::DIRECT_HOOK)];
        }
        // DEXTEN ending in # is a forward to another number through a Local channel: its own Dial hooks it.
        // REGEX splits its argument at the quotes only outside parentheses: the pattern keeps them balanced.
        $when = '$["${' . Facts::MARKER . '}"!="" & "${NODEST}"="" & "${DEXTEN:-1}"!="#" & ${REGEX("U[(].*[)]" ${D_OPTIONS})}=0]';
        Splice::normaliseExten($ext, self::CONTEXT, 's');
        $ext->splice(self::CONTEXT, 's', self::LABEL, new \ext_execif($when, 'Set', 'D_OPTIONS=${D_OPTIONS}U(' . AnswerSubroutine::CONTEXT . '^${DEXTEN})'));
        return [];
    }
}
