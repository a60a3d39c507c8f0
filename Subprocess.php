<?php
namespace FreePBX\modules\Bitrix;

/** Runs one shell command with optional stdin and a time limit, collecting stdout and stderr. */
class Subprocess
{
    /**
     * @param string $cmd shell command (arguments already escaped)
     * @param string|null $stdin
     * @param int|float $timeout seconds; the process is killed after it
     * @return array|null ['code' => int|null, 'out' => string, 'err' => string, 'timedOut' => bool], null when it did not start
     */
    public static function run($cmd, $stdin, $timeout)
    {
        $spec = [0 => ['pipe', 'r'], 1 => ['pipe', 'w'], 2 => ['pipe', 'w']];
        $proc = @proc_open($cmd, $spec, $pipes);
        if (!is_resource($proc)) {
            return null;
        }
        if ($stdin !== null) {
            @fwrite($pipes[0], $stdin);
        }
        fclose($pipes[0]);
        stream_set_blocking($pipes[1], false);
        stream_set_blocking($pipes[2], false);
        $got = [1 => '', 2 => ''];
        $deadline = microtime(true) + $timeout;
        $timedOut = false;
        while (!feof($pipes[1]) || !feof($pipes[2])) {
            $left = $deadline - microtime(true);
            if ($left <= 0) {
                $timedOut = true;
                break;
            }
            $r = [];
            foreach ([1, 2] as $i) {
                if (!feof($pipes[$i])) {
                    $r[] = $pipes[$i];
                }
            }
            $w = null;
            $x = null;
            if (@stream_select($r, $w, $x, 0, (int)min(200000, $left * 1e6)) === false) {
                break;
            }
            foreach ($r as $p) {
                $got[$p === $pipes[1] ? 1 : 2] .= (string)fread($p, 65536);
            }
        }
        fclose($pipes[1]);
        fclose($pipes[2]);
        if ($timedOut) {
            proc_terminate($proc, 9);
            proc_close($proc);
            return ['code' => null, 'out' => $got[1], 'err' => $got[2], 'timedOut' => true];
        }
        return ['code' => proc_close($proc), 'out' => $got[1], 'err' => $got[2], 'timedOut' => false];
    }
}
