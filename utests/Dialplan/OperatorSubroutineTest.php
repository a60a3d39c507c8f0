<?php

use FreePBX\modules\Bitrix\Dialplan\OperatorSubroutine;

/** [itd-bitrix-operator]: a channel name to its operator's extension, never EXTTOCALL. */
class OperatorSubroutineTest extends BitrixTestCase
{
    public function testDeviceChannelsMapToTheirUserLocalChannelsToTheirExten()
    {
        $ext = new extensions();
        OperatorSubroutine::add($ext);
        $block = self::contextBlock($ext->generateConf(), 'itd-bitrix-operator');
        $this->assertSame("[itd-bitrix-operator]\n"
            . "exten => s,1,Set(BITRIX_OPERATOR=\${CUT(ARG1,/,2)})\n"
            . "exten => s,n,GotoIf(\$[\"\${CUT(ARG1,/,1)}\"=\"Local\"]?local)\n"
            . "exten => s,n,ExecIf(\$[\${FIELDQTY(BITRIX_OPERATOR,-)}>1]?Set(BITRIX_OPERATOR=\${CUT(BITRIX_OPERATOR,-,1-\$[\${FIELDQTY(BITRIX_OPERATOR,-)}-1])}))\n"
            . "exten => s,n,Set(BITRIX_DEVICE_USER=\${DB(DEVICE/\${BITRIX_OPERATOR}/user)})\n"
            . "exten => s,n,ExecIf(\$[\"\${BITRIX_DEVICE_USER}\"!=\"\" & \"\${BITRIX_DEVICE_USER}\"!=\"none\"]?Set(BITRIX_OPERATOR=\${BITRIX_DEVICE_USER}))\n"
            . "exten => s,n,Return()\n"
            . "exten => s,n(local),Set(BITRIX_OPERATOR=\${CUT(BITRIX_OPERATOR,@,1)})\n"
            . "exten => s,n,Return()\n\n", $block);
        $this->assertStringNotContainsString('EXTTOCALL', $block);
    }
}
