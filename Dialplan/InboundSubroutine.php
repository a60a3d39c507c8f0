<?php
namespace FreePBX\modules\Bitrix\Dialplan;

/**
 * A call on a listed DID: its inbound route (core's ext-did-0001/0002) goes through our
 * subroutine before the route's own caller-ID hook. The subroutine marks the call as ours before
 * any AGI runs (the marker, the channel later answer facts are written to, the start time),
 * pushes the hangup handler, then runs the incoming step (caller's name from the CRM, call
 * registered) and returns. A call that already carries the marker (the same call entering a
 * route again) is left as it is.
 *
 *   asterisk -rx "dialplan show 74951234567@ext-did-0002"
 *   asterisk -rx "dialplan show itd-bitrix-inbound"
 */
class InboundSubroutine
{
    const CONTEXT = 'itd-bitrix-inbound';
    /** Labels of core's route, by preference: the Gosub goes right before the first present. */
    const ROUTE_LABELS = ['did-cid-hook', 'dest-ext'];

    /**
     *   exten => 74951234567,n,Gosub(itd-bitrix-inbound,s,1(${FROM_DID}))
     *   exten => 74951234567,n(did-cid-hook),Noop(CallerID Entry Point)
     * @param array[] $routes [['context' => 'ext-did-0002', 'exten' => '74951234567'], …]
     * @return array [number of routes spliced, Problem[]]
     */
    public static function spliceRoutes($ext, array $routes)
    {
        $spliced = 0;
        $problems = [];
        foreach ($routes as $r) {
            $label = Splice::findLabel($ext, $r['context'], $r['exten'], self::ROUTE_LABELS);
            if ($label === null) {
                $problems[] = new Problem(Problem::ROUTE, [$r['exten'], $r['context']]);
                continue;
            }
            Splice::normaliseExten($ext, $r['context'], $r['exten']);
            $ext->splice($r['context'], $r['exten'], $label, new \ext_gosub('1', 's', self::CONTEXT, '${FROM_DID}'));
            $spliced++;
        }
        return [$spliced, $problems];
    }

    /**
     *   [itd-bitrix-inbound]
     *   exten => s,1,ExecIf($["${BITRIX_UNIQUEID}"!=""]?Return())
     *   exten => s,n,Set(AGISIGHUP=no)
     *   exten => s,n,Set(__BITRIX_UNIQUEID=${UNIQUEID})
     *   exten => s,n,Set(__BITRIX_CHANNEL=${CHANNEL(name)})
     *   exten => s,n,Set(BITRIX_STARTED=${STRFTIME(,,%s.%3q)})
     *   exten => s,n,Set(CHANNEL(hangup_handler_push)=itd-bitrix-hangup,s,1)
     *   exten => s,n,AGI(itd_bitrix_incoming.js,${ARG1})
     *   exten => s,n,Return()
     *
     * With cards on ringing (RingingHook) the service's answer is kept for the ringing legs:
     *   exten => s,n,AGI(agi://127.0.0.1:4574/incoming,${ARG1})
     *   exten => s,n,ExecIf($["${AGISTATUS}"="SUCCESS"]?Set(__BITRIX_RINGING=1))
     *   exten => s,n,ExecIf($["${AGISTATUS}"="FAILURE"]?AGI(itd_bitrix_incoming.js,${ARG1}))
     *
     * @param bool $ringing whether RingingHook is in place
     */
    public static function add($ext, AgiStep $agi, $ringing = false)
    {
        $c = self::CONTEXT;
        $ext->addSectionNoCustom($c, true);
        $ext->add($c, 's', '', new \ext_execif('$["${BITRIX_UNIQUEID}"!=""]', 'Return', ''));
        $ext->add($c, 's', '', new \ext_set('AGISIGHUP', 'no'));
        // The facts the later steps read, set by Asterisk itself: an incoming step that starts
        // late or never leaves the call reported all the same.
        $ext->add($c, 's', '', new \ext_set('__' . Facts::MARKER, '${UNIQUEID}'));
        $ext->add($c, 's', '', new \ext_set('__' . Facts::CHANNEL, '${CHANNEL(name)}'));
        $ext->add($c, 's', '', new \ext_set(Facts::STARTED, Facts::NOW));
        // Pushed before the lookup, so a caller who hangs up during it still gets the call finished.
        $ext->add($c, 's', '', new \ext_set('CHANNEL(hangup_handler_push)', HangupHandler::CONTEXT . ',s,1'));
        // A service that did not answer the incoming step is not asked while the phones ring (no
        // refused connection per ringing leg): the card then goes to whoever answers.
        $served = $ringing ? [new \ext_execif('$["${AGISTATUS}"="SUCCESS"]', 'Set', '__' . Facts::RINGING . '=1')] : [];
        $agi->add($ext, $c, 's', 'incoming', '${ARG1}', $served);
        $ext->add($c, 's', '', new \ext_return(''));
    }
}
