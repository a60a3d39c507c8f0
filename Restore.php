<?php
namespace FreePBX\modules\Bitrix;

use FreePBX\modules\Backup as Base;

/** Restores the settings; the config file is written again right away and on every reload. */
class Restore extends Base\RestoreBase
{
    public function runRestore()
    {
        $configs = $this->getConfigs();
        if (isset($configs['kvstore']) && is_array($configs['kvstore'])) {
            $this->importKVStore($configs['kvstore']);
            $this->FreePBX->Bitrix->configFile()->write();
        }
    }
}
