<?php
namespace FreePBX\modules\Bitrix\Dialplan;

/**
 * Queues: the member the queue connected is the one who answered, not every phone that picked up
 * (each queue member dials its own phones, so every phone that picks up runs macro-auto-blkvm
 * before the queue has chosen). Queue() runs its member gosub once, on the connected member's
 * channel (Local/<ext>@from-queue-…;1), when the parties are connected. FreePBX builds that
 * gosub in ext-queues at the qgosub label (Set(QGOSUB=…)); right after it, a call we report
 * makes ours the queue's member gosub and keeps the one that was there, run after ours.
 *
 * Only where the Queue() line passes ${QGOSUB} in the place this Asterisk reads the gosub (7th
 * argument since Asterisk 21, which dropped the macro argument; 8th before): the Queues module
 * before 17.0.1.11 writes the old form whatever the Asterisk version, and then no gosub runs at
 * all. Such a queue is reported and its calls keep the answer hook in macro-auto-blkvm.
 *
 *   asterisk -rx "dialplan show 400@ext-queues"
 *   asterisk -rx "dialplan show itd-bitrix-queue"
 *   asterisk -rx "dialplan show itd-bitrix-queue-answer"
 */
class QueueHook
{
    const CONTEXT = 'ext-queues';
    /** Runs on the inbound channel before Queue(): puts our member gosub in QGOSUB. */
    const SETUP = 'itd-bitrix-queue';
    /** The member gosub itself, on the connected member's channel. */
    const ANSWER = 'itd-bitrix-queue-answer';
    const GOSUB_LABEL = 'qgosub';

    /**
     *   exten => 400,n(qgosub),Set(QGOSUB=${IF($[${LEN(${VQ_GOSUB})}>0]?${VQ_GOSUB}:${QGOSUB})})
     *   exten => 400,n,GosubIf($["${BITRIX_UNIQUEID}"!=""]?itd-bitrix-queue,s,1(400))
     *
     *   [itd-bitrix-queue]
     *   exten => s,1,ExecIf($["${QGOSUB}"!="itd-bitrix-queue-answer"]?Set(__BITRIX_QGOSUB=${QGOSUB}))
     *   exten => s,n,Set(__BITRIX_QHOOK=${ARG1})
     *   exten => s,n,Set(QGOSUB=itd-bitrix-queue-answer)
     *   exten => s,n,Return()
     *
     *   [itd-bitrix-queue-answer]
     *   exten => s,1,Gosub(itd-bitrix-answered,s,1())
     *   exten => s,n,GosubIf($["${BITRIX_QGOSUB}"!=""]?${BITRIX_QGOSUB},s,1())
     *   exten => s,n,Return()
     *
     * @param string|null $asteriskVersion FreePBX's ASTVERSION; null: unknown, the line is trusted
     * @return Problem[]
     */
    public static function add($ext, $asteriskVersion)
    {
        $problems = [];
        $hooked = 0;
        foreach (self::queues($ext) as $queue => $queueLine) {
            if (Splice::findLabel($ext, self::CONTEXT, $queue, [self::GOSUB_LABEL]) === null) {
                $problems[] = new Problem(Problem::QUEUE_LABEL, [$queue]);
                continue;
            }
            if (!self::gosubIsRead($queueLine, $asteriskVersion)) {
                $problems[] = new Problem(Problem::QUEUE_GOSUB, [$queue, $asteriskVersion]);
                continue;
            }
            Splice::normaliseExten($ext, self::CONTEXT, $queue);
            $ext->splice(self::CONTEXT, $queue, self::GOSUB_LABEL, new \ext_gosubif('$["${' . Facts::MARKER . '}"!=""]',
                self::SETUP . ',s,1', false, $queue), '', 1);
            $hooked++;
        }
        if ($hooked > 0) {
            self::addContexts($ext);
        }
        return $problems;
    }

    /** Whether Queue(…) passes ${QGOSUB} as the gosub argument this Asterisk reads. */
    public static function gosubIsRead($queueLine, $asteriskVersion)
    {
        if (!preg_match('/^Queue\((.*)\)$/s', $queueLine, $m)) {
            return false;
        }
        $at = array_search('${QGOSUB}', self::arguments($m[1]), true);
        if ($asteriskVersion === null || $asteriskVersion === '') {
            return $at === 6 || $at === 7;
        }
        return $at === (version_compare($asteriskVersion, '21', '>=') ? 6 : 7);
    }

    /** ext-queues extens that call Queue(): exten => the Queue(…) line. */
    private static function queues($ext)
    {
        $out = [];
        $extens = isset($ext->_exts[self::CONTEXT]) ? $ext->_exts[self::CONTEXT] : [];
        foreach ($extens as $key => $lines) {
            foreach ((array)$lines as $line) {
                $cmd = is_array($line) && isset($line['cmd']) && is_object($line['cmd']) ? (string)$line['cmd']->output() : '';
                if (strpos($cmd, 'Queue(') === 0) {
                    $out[trim($key)] = $cmd;
                    break;
                }
            }
        }
        return $out;
    }

    /** An application's arguments split at the commas outside ${…}, $[…] and (…). */
    private static function arguments($text)
    {
        $args = [];
        $cur = '';
        $depth = 0;
        $len = strlen($text);
        for ($i = 0; $i < $len; $i++) {
            $ch = $text[$i];
            if ($ch === '(' || $ch === '{' || $ch === '[') {
                $depth++;
            } elseif (($ch === ')' || $ch === '}' || $ch === ']') && $depth > 0) {
                $depth--;
            } elseif ($ch === ',' && $depth === 0) {
                $args[] = $cur;
                $cur = '';
                continue;
            }
            $cur .= $ch;
        }
        $args[] = $cur;
        return $args;
    }

    private static function addContexts($ext)
    {
        $c = self::SETUP;
        $ext->addSectionNoCustom($c, true);
        // A second queue of the same call finds our gosub in QGOSUB already: keep the earlier one.
        $ext->add($c, 's', '', new \ext_execif('$["${QGOSUB}"!="' . self::ANSWER . '"]', 'Set', '__' . Facts::QUEUE_NEXT_GOSUB . '=${QGOSUB}'));
        $ext->add($c, 's', '', new \ext_set('__' . Facts::QUEUE_HOOKED, '${ARG1}'));
        $ext->add($c, 's', '', new \ext_set('QGOSUB', self::ANSWER));
        $ext->add($c, 's', '', new \ext_return(''));

        $c = self::ANSWER;
        $next = Facts::QUEUE_NEXT_GOSUB;
        $ext->addSectionNoCustom($c, true);
        $ext->add($c, 's', '', new \ext_gosub('1', 's', AnswerSubroutine::CONTEXT, ''));
        $ext->add($c, 's', '', new \ext_gosubif('$["${' . $next . '}"!=""]', '${' . $next . '},s,1', false, ''));
        $ext->add($c, 's', '', new \ext_return(''));
    }
}
