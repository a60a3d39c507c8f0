<?php

/** Every _() string of the module is in bitrix.pot and translated in ru_RU; the .mo is compiled. */
class I18nTest extends BitrixTestCase
{
    private static function moduleStrings()
    {
        $root = realpath(__DIR__ . '/..');
        $files = array_merge(glob($root . '/*.php'), glob($root . '/Dialplan/*.php'), glob($root . '/views/*.php'));
        $strings = [];
        foreach ($files as $file) {
            $tokens = token_get_all(file_get_contents($file));
            $n = count($tokens);
            for ($i = 0; $i < $n; $i++) {
                if (!is_array($tokens[$i]) || $tokens[$i][0] !== T_STRING || $tokens[$i][1] !== '_') {
                    continue;
                }
                $j = $i + 1;
                while ($j < $n && is_array($tokens[$j]) && $tokens[$j][0] === T_WHITESPACE) {
                    $j++;
                }
                if ($tokens[$j] !== '(') {
                    continue;
                }
                $j++;
                while (is_array($tokens[$j]) && $tokens[$j][0] === T_WHITESPACE) {
                    $j++;
                }
                if (is_array($tokens[$j]) && $tokens[$j][0] === T_CONSTANT_ENCAPSED_STRING) {
                    $strings[eval('return ' . $tokens[$j][1] . ';')] = basename($file);
                } else {
                    self::fail('_() with a non-literal argument in ' . $file . ' line ' . $tokens[$i][2]);
                }
            }
        }
        return $strings;
    }

    /** msgid => msgstr of a .po/.pot (header skipped). */
    private static function readPo($file)
    {
        $entries = [];
        $cur = null;
        $field = null;
        foreach (file($file, FILE_IGNORE_NEW_LINES) as $line) {
            if (preg_match('/^(msgid|msgstr) (".*")$/', $line, $m)) {
                if ($m[1] === 'msgid') {
                    if ($cur !== null) {
                        $entries[$cur['msgid']] = $cur['msgstr'];
                    }
                    $cur = ['msgid' => '', 'msgstr' => ''];
                }
                $field = $m[1];
                $cur[$field] .= stripcslashes(substr($m[2], 1, -1));
            } elseif (preg_match('/^(".*")$/', $line, $m) && $cur !== null) {
                $cur[$field] .= stripcslashes(substr($m[1], 1, -1));
            }
        }
        if ($cur !== null) {
            $entries[$cur['msgid']] = $cur['msgstr'];
        }
        unset($entries['']);
        return $entries;
    }

    public function testPotAndRussianTranslationAreComplete()
    {
        $strings = self::moduleStrings();
        $this->assertGreaterThan(80, count($strings));
        $pot = self::readPo(__DIR__ . '/../i18n/bitrix.pot');
        $ru = self::readPo(__DIR__ . '/../i18n/ru_RU/LC_MESSAGES/bitrix.po');
        foreach ($strings as $msgid => $file) {
            $this->assertArrayHasKey($msgid, $pot, "missing from bitrix.pot ($file): $msgid");
            $this->assertArrayHasKey($msgid, $ru, "missing from ru_RU ($file): $msgid");
            $this->assertNotSame('', $ru[$msgid], "untranslated: $msgid");
            preg_match_all('/%(\d+\$)?[sd]/', $msgid, $a);
            preg_match_all('/%(\d+\$)?[sd]/', $ru[$msgid], $b);
            sort($a[0]);
            sort($b[0]);
            $this->assertSame($a[0], $b[0], "placeholders differ: $msgid");
        }
        $this->assertSame([], array_diff_key($pot, $strings), 'stale strings in bitrix.pot');
    }

    public function testMoIsCompiledFromThePo()
    {
        $mo = file_get_contents(__DIR__ . '/../i18n/ru_RU/LC_MESSAGES/bitrix.mo');
        $this->assertSame('de120495', bin2hex(substr($mo, 0, 4)), 'little-endian .mo magic');
        list(, $n, $origAt, $transAt) = array_values(unpack('V4', substr($mo, 4, 16)));
        $compiled = [];
        for ($i = 0; $i < $n; $i++) {
            $o = unpack('Vlen/Voff', substr($mo, $origAt + 8 * $i, 8));
            $t = unpack('Vlen/Voff', substr($mo, $transAt + 8 * $i, 8));
            $compiled[substr($mo, $o['off'], $o['len'])] = substr($mo, $t['off'], $t['len']);
        }
        unset($compiled['']);
        $ru = self::readPo(__DIR__ . '/../i18n/ru_RU/LC_MESSAGES/bitrix.po');
        ksort($compiled);
        ksort($ru);
        $this->assertSame($ru, $compiled, 'bitrix.mo differs from bitrix.po: run msgfmt');
    }
}
