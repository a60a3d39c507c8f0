<?php
namespace FreePBX\modules\Bitrix\Dialplan;

use FreePBX\modules\Bitrix\ResponsibleDestinations;

/**
 * The "Bitrix24: responsible manager" destinations: one exten per destination. The incoming step
 * left the caller's responsible manager in __BITRIX_RESP_EXT / __BITRIX_RESP_STATUS; when it
 * left one, the extension exists on this PBX and passes the destination's checks, it rings for
 * the ring time with voicemail blocked (as FreePBX's originate-skipvm, ring groups and queues do:
 * macro-blkvm-set, Dial(Local/<ext>@from-internal/n), macro-blkvm-clr); anything else goes to the
 * fallback at once. Nothing here waits for Bitrix24.
 *
 *   asterisk -rx "dialplan show itd-bitrix-responsible"
 *   asterisk -rx "dialplan show itd-bitrix-responsible-answered"
 */
class ResponsibleDestination
{
    const CONTEXT = ResponsibleDestinations::CONTEXT;
    /** Dial's U(): runs on the manager's channel when they answer, before the bridge. */
    const ANSWERED = 'itd-bitrix-responsible-answered';
    const EXTENSION = 'BITRIX_RESP_EXT';
    const WORK_STATUS = 'BITRIX_RESP_STATUS';
    /** TIMEMAN_STATUS values of a manager whose Bitrix24 workday is not open (UNAVAILABLE / NOT_INSTALLED: no time tracking). */
    const AWAY = ['CLOSED', 'PAUSED', 'EXPIRED'];
    /** The caller hears ringing; the manager may transfer the caller. */
    const DIAL_OPTIONS = 'tr';

    /**
     *   [itd-bitrix-responsible]
     *   exten => 1,1,Noop(Bitrix24 responsible manager, destination 1)
     *   exten => 1,n,GotoIf($["${BITRIX_RESP_EXT}"=""]?fallback)
     *   exten => 1,n,GotoIf($[${DB_EXISTS(AMPUSER/${BITRIX_RESP_EXT}/device)}=0]?fallback)
     *   exten => 1,n,GotoIf($["${DB(DND/${BITRIX_RESP_EXT})}"!=""]?fallback)                  ; honour DND
     *   exten => 1,n,GotoIf($["${EXTENSION_STATE(${BITRIX_RESP_EXT}@ext-local)}"!="NOT_INUSE" & "${EXTENSION_STATE(${BITRIX_RESP_EXT}@ext-local)}"!="UNKNOWN"]?fallback)   ; skip when busy
     *   exten => 1,n,GotoIf($["${BITRIX_RESP_STATUS}"="CLOSED" | "${BITRIX_RESP_STATUS}"="PAUSED" | "${BITRIX_RESP_STATUS}"="EXPIRED"]?fallback)   ; only during the workday
     *   exten => 1,n,Gosub(macro-blkvm-set,s,1())
     *   exten => 1,n,Dial(Local/${BITRIX_RESP_EXT}@from-internal/n,20,trU(itd-bitrix-responsible-answered^${BITRIX_RESP_EXT}))
     *   exten => 1,n,Gosub(macro-blkvm-clr,s,1())
     *   exten => 1,n,GotoIf($["${DIALSTATUS}"="ANSWER"]?answered)
     *   exten => 1,n(fallback),Goto(ext-queues,400,1)
     *   exten => 1,n(answered),Gosub(macro-hangupcall,s,1())
     *
     *   [itd-bitrix-responsible-answered]
     *   exten => s,1,Gosub(macro-blkvm-clr,s,1())
     *   exten => s,n,GosubIf($["${BITRIX_UNIQUEID}"!="" & "${SHARED(BITRIX_ANSWER,${BITRIX_CHANNEL})}"=""]?itd-bitrix-answered,s,1(${ARG1}))
     *   exten => s,n,Return()
     *
     * @param array[] $destinations id => destination (ResponsibleDestinations::all())
     * @param string|null $answerSubroutine the module's answer subroutine (AnswerSubroutine: the
     *        answer fact, then the card; ARG1 = the extension), null when the module generates none
     *        (off, no DID)
     */
    public static function add($ext, array $destinations, $answerSubroutine)
    {
        if (!$destinations) {
            return;
        }
        $c = self::CONTEXT;
        $ext->addSectionNoCustom($c, true);
        $resp = '${' . self::EXTENSION . '}';
        foreach ($destinations as $id => $d) {
            $x = (string)(int)$id;
            $ext->add($c, $x, '', new \ext_noop('Bitrix24 responsible manager, destination ' . $x));
            $ext->add($c, $x, '', new \ext_gotoif('$["' . $resp . '"=""]', 'fallback'));
            $ext->add($c, $x, '', new \ext_gotoif('$[${DB_EXISTS(AMPUSER/' . $resp . '/device)}=0]', 'fallback'));
            if ($d['honourDnd']) {
                $ext->add($c, $x, '', new \ext_gotoif('$["${DB(DND/' . $resp . ')}"!=""]', 'fallback'));
            }
            if ($d['skipBusy']) {
                $state = '"${EXTENSION_STATE(' . $resp . '@ext-local)}"';
                $ext->add($c, $x, '', new \ext_gotoif('$[' . $state . '!="NOT_INUSE" & ' . $state . '!="UNKNOWN"]', 'fallback'));
            }
            if ($d['workdayOnly']) {
                $away = [];
                foreach (self::AWAY as $s) {
                    $away[] = '"${' . self::WORK_STATUS . '}"="' . $s . '"';
                }
                $ext->add($c, $x, '', new \ext_gotoif('$[' . implode(' | ', $away) . ']', 'fallback'));
            }
            $ext->add($c, $x, '', new \ext_macro('blkvm-set'));
            $ext->add($c, $x, '', new \extension('Dial(Local/' . $resp . '@from-internal/n,' . (int)$d['ringTime'] . ','
                . self::DIAL_OPTIONS . 'U(' . self::ANSWERED . '^' . $resp . '))'));
            $ext->add($c, $x, '', new \ext_macro('blkvm-clr'));
            $ext->add($c, $x, '', new \ext_gotoif('$["${DIALSTATUS}"="ANSWER"]', 'answered'));
            $fallback = $d['fallback'] !== '' ? $d['fallback'] : 'app-blackhole,hangup,1';
            $ext->add($c, $x, 'fallback', new \ext_goto($fallback));
            $ext->add($c, $x, 'answered', new \ext_macro('hangupcall'));
        }

        $a = self::ANSWERED;
        $ext->addSectionNoCustom($a, true);
        // The manager took the call: voicemail is allowed again (a transfer may need it), as
        // FreePBX's macro-auto-blkvm does for queue and ring-group answers.
        $ext->add($a, 's', '', new \ext_macro('blkvm-clr'));
        if ($answerSubroutine !== null) {
            // The answer is recorded like any other (who, when; the card). The hook on the
            // extension's own Dial (DirectDialHook, or macro-auto-blkvm) has usually recorded it a
            // moment earlier, on the phone's channel: then this one has nothing to add.
            $ext->add($a, 's', '', new \ext_gosubif('$["${' . Facts::MARKER . '}"!="" & "${' . Facts::answerOfCall() . '}"=""]',
                $answerSubroutine . ',s,1', false, '${ARG1}'));
        }
        $ext->add($a, 's', '', new \ext_return(''));
    }
}
