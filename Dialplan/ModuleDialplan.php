<?php
namespace FreePBX\modules\Bitrix\Dialplan;

/**
 * Everything the module adds to the dialplan at a reload, in the order the hooks need.
 * Nothing while off. Inbound: only routes of listed DIDs, every answer path with its hook (queue
 * member gosub, ring groups and follow-me through macro-auto-blkvm, a Dial straight to an
 * extension), cards on ringing where the resident service runs them; what cannot be placed is
 * returned for the log, the notification and the page. Outgoing: the trunk hook when outgoing
 * calls are reported or click-to-call is on (the clicked call leaves through a trunk); its
 * problems are logged. The responsible-manager destinations exist once defined (routes point at
 * them), also while off, when they send every call to their fallback.
 */
class ModuleDialplan
{
    /**
     * @param array $s the settings
     * @param int|null $servicePort the resident service's port where pm2 runs it (the per-call AGI is the fallback)
     * @param callable $listedRoutes () => the inbound routes of the listed DIDs (InboundRoutes::listed)
     * @param string|null $asteriskVersion
     * @param array $destinations the responsible-manager destinations
     * @param callable $log (string) => void
     * @return Problem[]
     */
    public static function add($ext, array $s, $servicePort, callable $listedRoutes, $asteriskVersion, array $destinations, callable $log)
    {
        $problems = [];
        if (!empty($s['enabled'])) {
            $agi = new AgiStep($servicePort);
            if (!empty($s['dids'])) {
                $problems = self::inbound($ext, $agi, $s, $listedRoutes(), $asteriskVersion);
            }
            if (!empty($s['outgoingEnabled']) || !empty($s['clickToCall'])) {
                foreach (OutboundSubroutine::add($ext, $agi, ['report' => !empty($s['outgoingEnabled']), 'routes' => $s['outgoingRoutes']]) as $problem) {
                    $log($problem);
                }
            }
        }
        $answer = Splice::extenExists($ext, AnswerSubroutine::CONTEXT, 's') ? AnswerSubroutine::CONTEXT : null;
        ResponsibleDestination::add($ext, $destinations, $answer);
        return $problems;
    }

    /** @return Problem[] */
    private static function inbound($ext, AgiStep $agi, array $s, array $routes, $asteriskVersion)
    {
        list($spliced, $problems) = InboundSubroutine::spliceRoutes($ext, $routes);
        if ($spliced === 0) {
            return $problems;
        }
        // Cards on ringing need the resident service; without it the card pops on answer.
        $ringing = $agi->hasService() && \FreePBX\modules\Bitrix\Settings::cardMode($s) === 'ringing';
        $ringingProblems = $ringing ? RingingHook::add($ext, $agi) : [];
        InboundSubroutine::add($ext, $agi, $ringing && !$ringingProblems);
        HangupHandler::add($ext, $agi);
        OperatorSubroutine::add($ext);
        AnswerSubroutine::add($ext, $agi);
        TransferMark::add($ext);
        return array_merge(
            $problems,
            QueueHook::add($ext, $asteriskVersion),
            AutoBlkvmHook::add($ext),
            DirectDialHook::add($ext),
            $ringingProblems
        );
    }
}
