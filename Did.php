<?php
namespace FreePBX\modules\Bitrix;

/**
 * A DID as the admin lists it and as inbound routes name it. The key is the AGIs' didKey()
 * (agi-src/logic/phone.ts): +7495…, 8495… and 7495… compare equal.
 */
class Did
{
    public static function key($raw, $countryCode)
    {
        $trimmed = trim((string)$raw);
        $digits = preg_replace('/\D+/', '', $trimmed);
        if ($digits === '') {
            return '';
        }
        $international = substr($trimmed, 0, 1) === '+';
        if (!$international && strncmp($digits, '00', 2) === 0 && strlen($digits) > 4) {
            $digits = substr($digits, 2);
            $international = true;
        }
        if (!$international && (string)$countryCode === '7') {
            if (strlen($digits) === 11 && $digits[0] === '8') {
                $digits = '7' . substr($digits, 1);
            } elseif (strlen($digits) === 10) {
                $digits = '7' . $digits;
            }
        }
        return substr($digits, 0, 32);
    }

    /** Asterisk extension pattern (_NXX.) → PCRE. */
    public static function patternRegex($pattern)
    {
        $p = substr($pattern, 1);
        $re = '';
        $len = strlen($p);
        for ($i = 0; $i < $len; $i++) {
            $c = $p[$i];
            if ($c === '[') {
                $end = strpos($p, ']', $i);
                if ($end === false) {
                    $re .= '\\[';
                    continue;
                }
                $re .= '[' . str_replace(['\\', '/'], ['\\\\', '\\/'], substr($p, $i + 1, $end - $i - 1)) . ']';
                $i = $end;
                continue;
            }
            $map = ['X' => '[0-9]', 'x' => '[0-9]', 'Z' => '[1-9]', 'z' => '[1-9]', 'N' => '[2-9]', 'n' => '[2-9]', '.' => '.+', '!' => '.*'];
            $re .= isset($map[$c]) ? $map[$c] : preg_quote($c, '/');
        }
        return '/^' . $re . '$/';
    }
}
