<?php

use FreePBX\modules\Bitrix\Dialplan\ResponsibleDestination;
use FreePBX\modules\Bitrix\ResponsibleDestinations;

class ResponsibleDestinationTest extends BitrixTestCase
{
    private static function dest(array $d)
    {
        return $d + ResponsibleDestinations::DEFAULTS;
    }

    public function testEveryCheckThenTheManagerWithVoicemailHeldBackThenTheFallback()
    {
        $ext = new extensions();
        ResponsibleDestination::add($ext, [3 => self::dest(['ringTime' => 25, 'workdayOnly' => true, 'fallback' => 'ext-queues,400,1'])], 'itd-bitrix-answered');
        $this->assertSame("[itd-bitrix-responsible]\n"
            . "exten => 3,1,Noop(Bitrix24 responsible manager, destination 3)\n"
            . "exten => 3,n,GotoIf(\$[\"\${BITRIX_RESP_EXT}\"=\"\"]?fallback)\n"
            . "exten => 3,n,GotoIf(\$[\${DB_EXISTS(AMPUSER/\${BITRIX_RESP_EXT}/device)}=0]?fallback)\n"
            . "exten => 3,n,GotoIf(\$[\"\${DB(DND/\${BITRIX_RESP_EXT})}\"!=\"\"]?fallback)\n"
            . "exten => 3,n,GotoIf(\$[\"\${EXTENSION_STATE(\${BITRIX_RESP_EXT}@ext-local)}\"!=\"NOT_INUSE\" & \"\${EXTENSION_STATE(\${BITRIX_RESP_EXT}@ext-local)}\"!=\"UNKNOWN\"]?fallback)\n"
            . "exten => 3,n,GotoIf(\$[\"\${BITRIX_RESP_STATUS}\"=\"CLOSED\" | \"\${BITRIX_RESP_STATUS}\"=\"PAUSED\" | \"\${BITRIX_RESP_STATUS}\"=\"EXPIRED\"]?fallback)\n"
            . "exten => 3,n,Gosub(macro-blkvm-set,s,1())\n"
            . "exten => 3,n,Dial(Local/\${BITRIX_RESP_EXT}@from-internal/n,25,trU(itd-bitrix-responsible-answered^\${BITRIX_RESP_EXT}))\n"
            . "exten => 3,n,Gosub(macro-blkvm-clr,s,1())\n"
            . "exten => 3,n,GotoIf(\$[\"\${DIALSTATUS}\"=\"ANSWER\"]?answered)\n"
            . "exten => 3,n(fallback),Goto(ext-queues,400,1)\n"
            . "exten => 3,n(answered),Gosub(macro-hangupcall,s,1())\n\n", self::contextBlock($ext->generateConf(), 'itd-bitrix-responsible'));
        $this->assertSame("[itd-bitrix-responsible-answered]\n"
            . "exten => s,1,Gosub(macro-blkvm-clr,s,1())\n"
            . "exten => s,n,GosubIf(\$[\"\${BITRIX_UNIQUEID}\"!=\"\" & \"\${SHARED(BITRIX_ANSWER,\${BITRIX_CHANNEL})}\"=\"\"]?itd-bitrix-answered,s,1(\${ARG1}))\n"
            . "exten => s,n,Return()\n\n", self::contextBlock($ext->generateConf(), 'itd-bitrix-responsible-answered'));
    }

    public function testChecksSwitchedOffAreNotWrittenAndEachDestinationIsItsOwnExten()
    {
        $ext = new extensions();
        ResponsibleDestination::add($ext, [
            1 => self::dest(['honourDnd' => false, 'skipBusy' => false, 'ringTime' => 15, 'fallback' => 'ext-group,600,1']),
            2 => self::dest(['fallback' => 'app-blackhole,hangup,1']),
        ], 'itd-bitrix-answered');
        $one = self::extenLines($ext->generateConf(), 'itd-bitrix-responsible', '1');
        $this->assertSame([
            '1,Noop(Bitrix24 responsible manager, destination 1)',
            'n,GotoIf($["${BITRIX_RESP_EXT}"=""]?fallback)',
            'n,GotoIf($[${DB_EXISTS(AMPUSER/${BITRIX_RESP_EXT}/device)}=0]?fallback)',
            'n,Gosub(macro-blkvm-set,s,1())',
            'n,Dial(Local/${BITRIX_RESP_EXT}@from-internal/n,15,trU(itd-bitrix-responsible-answered^${BITRIX_RESP_EXT}))',
            'n,Gosub(macro-blkvm-clr,s,1())',
            'n,GotoIf($["${DIALSTATUS}"="ANSWER"]?answered)',
            'n(fallback),Goto(ext-group,600,1)',
            'n(answered),Gosub(macro-hangupcall,s,1())',
        ], $one);
        $two = self::extenLines($ext->generateConf(), 'itd-bitrix-responsible', '2');
        $this->assertCount(11, $two);
        $this->assertSame('n(fallback),Goto(app-blackhole,hangup,1)', $two[9]);
    }

    public function testWithoutTheModuleAnswerSubroutineTheAnswerOnlyLiftsTheVoicemailBlock()
    {
        $ext = new extensions();
        ResponsibleDestination::add($ext, [1 => self::dest(['fallback' => 'ext-queues,400,1'])], null);
        $this->assertSame(['1,Gosub(macro-blkvm-clr,s,1())', 'n,Return()'],
            self::extenLines($ext->generateConf(), 'itd-bitrix-responsible-answered', 's'));
    }

    public function testNoDestinationsNoContexts()
    {
        $ext = new extensions();
        ResponsibleDestination::add($ext, [], 'itd-bitrix-answered');
        $this->assertSame('', $ext->generateConf());
    }
}
