<?php

use FreePBX\modules\Bitrix\FileOwner;
use FreePBX\modules\Bitrix\InstalledFiles;

/** The module's files outside its folder: AGI copies in ASTAGIDIR and the call database. */
class InstalledFilesTest extends BitrixTestCase
{
    private function files()
    {
        $mod = $this->tmp . '/module';
        if (!is_dir($mod)) {
            mkdir($mod . '/agi-bin/lib', 0755, true);
        }
        file_put_contents($mod . '/agi-bin/itd_bitrix_incoming.js', 'x');
        file_put_contents($mod . '/agi-bin/node_sqlite3.node', 'x');
        file_put_contents($mod . '/agi-bin/lib/helper.js', 'x');
        return new InstalledFiles($this->tmp . '/agi-bin', $mod, new FileOwner(false));
    }

    public function testAgiCopiesTheModuleShipsAndItdBitrixLeftovers()
    {
        $agi = $this->tmp . '/agi-bin';
        mkdir($agi . '/lib');
        foreach (['itd_bitrix_incoming.js', 'node_sqlite3.node', 'lib/helper.js', 'lib/theirs.js', 'itd_bitrix_old.js', 'other.node'] as $f) {
            file_put_contents($agi . '/' . $f, 'x');
        }
        $removed = $this->files()->removeAgiFiles();
        sort($removed);
        $this->assertSame(['itd_bitrix_incoming.js', 'itd_bitrix_old.js', 'lib/helper.js', 'node_sqlite3.node'], $removed);
        $this->assertSame(['lib', 'other.node'], array_values(array_diff(scandir($agi), ['.', '..'])), 'a shared folder stays while not empty');
        $this->assertSame(['theirs.js'], array_values(array_diff(scandir($agi . '/lib'), ['.', '..'])));
    }

    public function testDatabaseFilesOnlyForASqlitePath()
    {
        $db = $this->tmp . '/data/itd_bitrix.sqlite';
        $this->files()->prepareDatabaseDir($db);
        $this->assertSame(0750, fileperms(dirname($db)) & 0777);
        foreach (['', '-wal', '-shm', '-journal', '.hangups', '.hangups.1.2.3', '.corrupt-17'] as $suffix) {
            file_put_contents($db . $suffix, 'x');
        }
        file_put_contents($this->tmp . '/data/notes.txt', 'keep');
        $this->files()->removeDatabase($this->tmp . '/data/notes.txt');
        $this->assertFileExists($this->tmp . '/data/notes.txt', 'not a .sqlite path: nothing removed');
        $this->files()->removeDatabase($db);
        $this->assertSame(['notes.txt'], array_values(array_diff(scandir($this->tmp . '/data'), ['.', '..'])));
    }
}
