<?php

use FreePBX\modules\Bitrix\Dialplan\Splice;

/** The splice helpers every hook uses, on the framework's extensions object (stand-in). */
class SpliceTest extends BitrixTestCase
{
    public function testExtenExistsAndFindLabel()
    {
        $ext = new extensions();
        $ext->add('ctx', '100', 'first', new ext_noop('a'));
        $ext->add('ctx', '100', 'second', new ext_noop('b'));
        $this->assertTrue(Splice::extenExists($ext, 'ctx', '100'));
        $this->assertFalse(Splice::extenExists($ext, 'ctx', '101'));
        $this->assertFalse(Splice::extenExists($ext, 'other', '100'));
        $this->assertSame('second', Splice::findLabel($ext, 'ctx', '100', ['missing', 'second', 'first']), 'first of the wanted labels present');
        $this->assertNull(Splice::findLabel($ext, 'ctx', '100', ['missing']));
        $this->assertNull(Splice::findLabel($ext, 'ctx', '101', ['first']));
        $this->assertFalse(Splice::extenExists($ext, 'ctx', '101'), 'looking does not create the exten');
    }

    public function testNormaliseExtenRekeysAListAnotherModuleStartedAtPositionOne()
    {
        $ext = new extensions();
        $ext->splice('macro-x', 's', 1, new ext_noop('queues'));
        $ext->add('macro-x', 's', '', new ext_noop('core'));
        $list = Splice::normaliseExten($ext, 'macro-x', 's');
        $this->assertSame([0, 1], array_keys($list));
        $this->assertSame(['1', 'n'], array_column($list, 'basetag'));
    }

    public function testBeforeReturnOrAppend()
    {
        $ext = new extensions();
        $ext->add('sub', 's', '', new ext_noop('work'));
        $ext->add('sub', 's', '', new ext_return(''));
        Splice::beforeReturn($ext, 'sub', 's', new ext_noop('ours'));
        $this->assertSame(['1,Noop(work)', 'n,Noop(ours)', 'n,Return()'], self::extenLines($ext->generateConf(), 'sub', 's'));

        $ext = new extensions();
        $ext->add('macro', 's', '', new ext_noop('work'));
        Splice::beforeReturn($ext, 'macro', 's', new ext_noop('ours'));
        $this->assertSame(['1,Noop(work)', 'n,Noop(ours)'], self::extenLines($ext->generateConf(), 'macro', 's'));
    }
}
