<?php
namespace FreePBX\modules\Bitrix;

use FreePBX\modules\Backup as Base;

/** Backs up the module's settings (its kvstore). The call database is runtime data. */
class Backup extends Base\BackupBase
{
    public function runBackup($id, $transaction)
    {
        $this->addConfigs(['kvstore' => $this->dumpKVStore()]);
    }
}
