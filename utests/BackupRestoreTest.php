<?php

use FreePBX\modules\Bitrix\Backup;
use FreePBX\modules\Bitrix\Restore;

class BackupRestoreTest extends BitrixTestCase
{
    public function testSettingsSurviveBackupAndRestore()
    {
        $b = $this->bitrix();
        $this->configure($b, ['enabled' => true, 'webhookUrl' => 'https://e.bitrix24.ru/rest/1/abc/', 'dids' => ['74951234567'], 'retentionHours' => 5]);
        $saved = $b->settings()->get();

        $backup = new Backup($this->freepbx, 'bitrix');
        $backup->runBackup('1', 'tx');
        $this->assertSame($saved, $backup->configs['kvstore']['noid']['settings']);

        \FreePBX\DB_Helper::$store = [];
        $this->assertFalse($b->getConfig('settings'));
        $restore = new Restore($this->freepbx, 'bitrix', json_decode(json_encode($backup->configs), true));
        $restore->runRestore();
        $this->assertSame($saved, $b->settings()->get());
        $cfg = json_decode(file_get_contents($b->configFile()->path()), true);
        $this->assertSame(['74951234567'], $cfg['dids']);
    }
}
