<?php

use FreePBX\modules\Bitrix\Did;

class DidTest extends BitrixTestCase
{
    /** Same vectors as agi-src/logic/phone.ts didKey(). */
    public function testKeyMatchesTheAgiNormalisation()
    {
        $cases = [
            ['+74951234567', '7', '74951234567'],
            ['84951234567', '7', '74951234567'],
            ['74951234567', '7', '74951234567'],
            ['4951234567', '7', '74951234567'],
            ['0074951234567', '7', '74951234567'],
            ['+8 495 123-45-67', '7', '84951234567'],
            ['84951234567', '', '84951234567'],
            ['unknown', '7', ''],
            ['0012', '7', '0012'],
        ];
        foreach ($cases as $c) {
            $this->assertSame($c[2], Did::key($c[0], $c[1]), $c[0]);
        }
    }

    public function testPatternRegex()
    {
        $cases = [
            ['_7495XXXXXXX', '74951234567', true],
            ['_7495XXXXXXX', '7495123456', false],
            ['_NXX', '200', true],
            ['_NXX', '100', false],
            ['_Z.', '1', false],
            ['_Z.', '12', true],
            ['_[78]495!', '8495', true],
            ['_+7.', '+74951234567', true],
            ['_7/X', '7/5', true],
        ];
        foreach ($cases as $c) {
            $this->assertSame($c[2], (bool)preg_match(Did::patternRegex($c[0]), $c[1]), $c[0] . ' ~ ' . $c[1]);
        }
    }
}
