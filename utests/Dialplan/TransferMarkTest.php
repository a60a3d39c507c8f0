<?php

use FreePBX\modules\Bitrix\Dialplan\DirectDialHook;
use FreePBX\modules\Bitrix\Dialplan\TransferMark;

/** macro-dial-one tells the answer hooks whether its Dial is a blind transfer or an attended transfer's consultation. */
class TransferMarkTest extends BitrixTestCase
{
    const BLIND = 'n,ExecIf($["${BITRIX_UNIQUEID}"!=""]?Set(__BITRIX_XFER=${IF($["${BLINDTRANSFER}"!=""]?blind)}))';
    const CONSULT = 'n,ExecIf($["${BITRIX_UNIQUEID}"!="" & "${ATTENDEDTRANSFER}"!=""]?Set(__BITRIX_XFER=consult))';

    public function testBeforeTheDialBesideTheDirectDialHook()
    {
        foreach ([17, 16] as $fpbx) {
            $ext = self::frameworkDialplan(self::ROUTES, $fpbx);
            $old = self::extenLines($ext->generateConf(), 'macro-dial-one', 's');
            TransferMark::add($ext);
            $this->assertSame([], DirectDialHook::add($ext));
            $lines = self::extenLines($ext->generateConf(), 'macro-dial-one', 's');
            $at = array_search('n(dialapp),Noop()', $lines, true);
            $this->assertSame([self::BLIND, self::CONSULT, DirectDialHookTest::HOOK], array_slice($lines, $at - 3, 3), "FreePBX $fpbx");
            $this->assertCount(count($old) + 3, $lines);
        }
    }

    public function testRingGroupsAndFollowMeBeforeDialparties()
    {
        $ext = new extensions();
        $ext->add('macro-dial', 's', '', new ext_noop('Blind Transfer: ${BLINDTRANSFER}'));
        $ext->add('macro-dial', 's', 'dial', new ext_agi('dialparties.agi'));
        $ext->add('macro-dial', 's', '', new ext_return(''));
        TransferMark::add($ext);
        $this->assertSame([
            '1,Noop(Blind Transfer: ${BLINDTRANSFER})',
            self::BLIND,
            self::CONSULT,
            'n(dial),AGI(agi://127.0.0.1/dialparties.agi)',
            'n,Return()',
        ], self::extenLines($ext->generateConf(), 'macro-dial', 's'));
    }

    public function testWithoutTheDialappLabelNothingIsPlaced()
    {
        $ext = new extensions();
        $ext->add('macro-dial-one', 's', '', new ext_noop('old'));
        $before = $ext->generateConf();
        TransferMark::add($ext);
        $this->assertSame($before, $ext->generateConf());
    }
}
