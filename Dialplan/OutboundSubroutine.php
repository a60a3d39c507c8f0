<?php
namespace FreePBX\modules\Bitrix\Dialplan;

/**
 * A call leaving through a trunk: core's macro-dialout-trunk (one run per trunk the route tries)
 * goes through our subroutine right before its predial hook. The first run of a call writes the
 * call's facts on the calling channel, pushes the outgoing hangup handler and runs the outgoing
 * step (register, card to the caller); every run asks the trunk Dial to stamp the answer
 * (U() on the trunk channel). After each trunk Dial the trunk's hangup cause is kept, before
 * FreePBX's busy/congestion tones overwrite it.
 *
 * On FreePBX 17 every macro-* is a Gosub: ARGn are the caller's, empty here. The subroutine reads
 * the channel variables core sets instead (AMPUSER, DIAL_NUMBER, ROUTEID, ROUTENAME,
 * DIAL_TRUNK_OPTIONS), which FreePBX 16's Macro() sets alike.
 *
 *   asterisk -rx "dialplan show s@macro-dialout-trunk"
 *   asterisk -rx "dialplan show itd-bitrix-outbound"
 */
class OutboundSubroutine
{
    const CONTEXT = 'itd-bitrix-outbound';
    const MACRO = 'macro-dialout-trunk';
    /** Core's label of the predial hook: our Gosub goes right before it. */
    const LABEL = 'gocall';
    /** Where core dials the trunk on FreePBX 17 (core 17.0.9.77 and later); 16 dials inline in the macro. */
    const TRUNK_DIAL = 'trunk-dial-with-exten';
    /** Core's line right after each trunk Dial returns. */
    const AFTER_DIAL = '/^Noop\(Dial failed for some reason/';

    /**
     * @param array $opt report (bool: report outgoing calls; clicks are handled either way),
     *                   routes (string[]: outbound route ids to report, [] = all)
     * @return string[] problems
     */
    public static function add($ext, AgiStep $agi, array $opt)
    {
        if (Splice::findLabel($ext, self::MACRO, 's', [self::LABEL]) === null) {
            return [self::MACRO . ',s (label ' . self::LABEL . ') not found: no outbound route uses a trunk; outgoing calls are not reported'];
        }
        Splice::normaliseExten($ext, self::MACRO, 's');
        $ext->splice(self::MACRO, 's', self::LABEL, new \ext_gosub('1', 's', self::CONTEXT));
        self::keepTrunkCause($ext);

        $problems = [];
        $stampAnswer = !self::trunkDialHasAnswerOption($ext);
        if (!$stampAnswer) {
            $problems[] = 'the trunk Dial already has a U() option (an outbound route e-mails on every call): '
                . 'outgoing talk time falls back to Asterisk\'s ANSWEREDTIME';
        }
        self::subroutine($ext, $agi, $opt, $stampAnswer);
        OutboundAnswer::add($ext);
        OutboundHangupHandler::add($ext, $agi);
        return $problems;
    }

    /**
     *   [itd-bitrix-outbound]
     *   exten => s,1,GotoIf($["${BITRIX_OUT_UNIQUEID}"="${UNIQUEID}"]?answer)
     *   exten => s,n,GotoIf($["${BITRIX_UNIQUEID}${BITRIX_OUT_UNIQUEID}${FROM_DID}"!=""]?done)
     *   exten => s,n,GotoIf($["${BITRIX_CLICK_CALL_ID}"!=""]?ours)
     *   exten => s,n,GotoIf($["${ROUTEID}"="1" | "${ROUTEID}"="3"]?ours:done)   (all routes: Goto(ours); not reported: Goto(done))
     *   exten => s,n(ours),Set(AGISIGHUP=no)
     *   exten => s,n,Set(__BITRIX_OUT_UNIQUEID=${UNIQUEID})
     *   …  the call's facts, the hangup handler, the outgoing step
     *   exten => s,n(answer),GotoIf($["${FORCE_CONFIRM}"!="" | "${DIAL_TRUNK_OPTIONS}" =~ "U[(]"]?done)
     *   exten => s,n,Set(DIAL_TRUNK_OPTIONS=${DIAL_TRUNK_OPTIONS}U(itd-bitrix-out-answer))
     *   exten => s,n(done),Return()
     */
    private static function subroutine($ext, AgiStep $agi, array $opt, $stampAnswer)
    {
        $c = self::CONTEXT;
        $s = 's';
        $ext->addSectionNoCustom($c, true);
        // A later trunk of the same call: its facts are on the channel already.
        $ext->add($c, $s, '', new \ext_gotoif('$["${BITRIX_OUT_UNIQUEID}"="${UNIQUEID}"]', 'answer'));
        // A leg of a call that is reported already leaving through a trunk (follow-me to a mobile,
        // a forwarded or transferred call): it belongs to that call, not to a new outgoing one.
        $ext->add($c, $s, '', new \ext_gotoif('$["${BITRIX_UNIQUEID}${BITRIX_OUT_UNIQUEID}${FROM_DID}"!=""]', 'done'));
        // A click-to-call: Bitrix24 registered it; whichever route it takes, it is finished here.
        $ext->add($c, $s, '', new \ext_gotoif('$["${BITRIX_CLICK_CALL_ID}"!=""]', 'ours'));
        $routes = isset($opt['routes']) ? array_values(array_filter(array_map('strval', $opt['routes']), 'ctype_digit')) : [];
        if (empty($opt['report'])) {
            $ext->add($c, $s, '', new \ext_goto('done'));
        } elseif ($routes) {
            $test = implode(' | ', array_map(function ($id) {
                return '"${ROUTEID}"="' . $id . '"';
            }, $routes));
            $ext->add($c, $s, '', new \ext_gotoif('$[' . $test . ']', 'ours', 'done'));
        }
        $ext->add($c, $s, 'ours', new \ext_set('AGISIGHUP', 'no'));
        // The facts, before any process runs: the hangup step reads them from the channel.
        $ext->add($c, $s, '', new \ext_set('__BITRIX_OUT_UNIQUEID', '${UNIQUEID}'));
        $ext->add($c, $s, '', new \ext_set('__BITRIX_OUT_CHANNEL', '${CHANNEL(name)}'));
        $ext->add($c, $s, '', new \ext_set('BITRIX_OUT_STARTED', '${STRFTIME(,,%s.%3q)}'));
        // The caller's extension: never CALLERID(num), which is the outbound caller ID by now.
        $ext->add($c, $s, '', new \ext_set('BITRIX_OUT_EXTEN', '${AMPUSER}'));
        $ext->add($c, $s, '', new \ext_execif('$["${BITRIX_OUT_EXTEN}"=""]', 'Set', 'BITRIX_OUT_EXTEN=${CALLERIDNUMINTERNAL}'));
        // The number as the route passes it to the trunk, without the trunk's technical dial prefix.
        $ext->add($c, $s, '', new \ext_set('BITRIX_OUT_NUMBER', '${DIAL_NUMBER}'));
        $ext->add($c, $s, '', new \ext_set('BITRIX_OUT_LINE', '${ROUTENAME}'));
        $ext->add($c, $s, '', new \ext_set('CHANNEL(hangup_handler_push)', OutboundHangupHandler::CONTEXT . ',s,1'));
        $agi->add($ext, $c, $s, 'outgoing');
        if ($stampAnswer) {
            // One U() per Dial: FORCE_CONFIRM's U(macro-confirm) (or a predial hook's) keeps its place.
            // "=~", not REGEX(): REGEX's argument parser counts the "(" of "U[(]" and refuses the call.
            $ext->add($c, $s, 'answer', new \ext_gotoif('$["${FORCE_CONFIRM}"!="" | "${DIAL_TRUNK_OPTIONS}" =~ "U[(]"]', 'done'));
            $ext->add($c, $s, '', new \ext_set('DIAL_TRUNK_OPTIONS', '${DIAL_TRUNK_OPTIONS}U(' . OutboundAnswer::CONTEXT . ')'));
            $ext->add($c, $s, 'done', new \ext_return(''));
        } else {
            $ext->add($c, $s, 'answer', new \ext_noop('answer time from ANSWEREDTIME'));
            $ext->add($c, $s, 'done', new \ext_return(''));
        }
    }

    /** Set(BITRIX_OUT_CAUSE=${HANGUPCAUSE}) right after each trunk Dial (core's "Dial failed" Noop). */
    private static function keepTrunkCause($ext)
    {
        $done = 0;
        for (;;) {
            $list = Splice::normaliseExten($ext, self::MACRO, 's');
            $at = null;
            $seen = 0;
            foreach ($list as $i => $e) {
                if (preg_match(self::AFTER_DIAL, self::command($e)) && $seen++ === $done) {
                    $at = $i;
                    break;
                }
            }
            if ($at === null) {
                return;
            }
            $ext->splice(self::MACRO, 's', $at, new \ext_set('BITRIX_OUT_CAUSE', '${HANGUPCAUSE}'));
            $done++;
        }
    }

    /**
     * Whether the trunk Dial carries a U() of its own (core writes U(sub-send-obroute-email…)
     * there when a route e-mails on every call): Dial keeps only the last U(), so ours would go.
     */
    private static function trunkDialHasAnswerOption($ext)
    {
        $places = [[self::MACRO, ' s ']];
        if (isset($ext->_exts[self::TRUNK_DIAL])) {
            foreach (array_keys($ext->_exts[self::TRUNK_DIAL]) as $key) {
                $places[] = [self::TRUNK_DIAL, $key];
            }
        }
        foreach ($places as list($ctx, $key)) {
            foreach (isset($ext->_exts[$ctx][$key]) ? $ext->_exts[$ctx][$key] : [] as $e) {
                $cmd = self::command($e);
                if (preg_match('/^Dial\(/', $cmd) && preg_match('/U\(/', $cmd)) {
                    return true;
                }
            }
        }
        return false;
    }

    private static function command($entry)
    {
        return is_array($entry) && isset($entry['cmd']) && is_object($entry['cmd']) ? (string)$entry['cmd']->output() : '';
    }
}
