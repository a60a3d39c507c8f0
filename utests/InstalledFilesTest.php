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
        file_put_contents($mod . '/agi-bin/itd_bitrix_sqlite3-linux-x64-glibc2.28.node', 'x');
        file_put_contents($mod . '/agi-bin/lib/helper.js', 'x');
        return new InstalledFiles($this->tmp . '/agi-bin', $mod, new FileOwner(false));
    }

    public function testAgiCopiesTheModuleShipsAndItdBitrixLeftovers()
    {
        $agi = $this->tmp . '/agi-bin';
        mkdir($agi . '/lib');
        $copies = [
            '.itd_bitrix_sqlite3-linux-x64-glibc2.28.e2323a43c9d31a29.node',
            '.itd_bitrix_sqlite3-linux-x64-glibc2.28.0123456789abcdef.node',
            '.itd_bitrix_sqlite3-linux-x64-glibc2.28.e2323a43c9d31a29.node.4242-0a1b2c3d.tmp',
        ];
        foreach (array_merge(['itd_bitrix_incoming.js', 'itd_bitrix_sqlite3-linux-x64-glibc2.28.node', 'lib/helper.js', 'lib/theirs.js', 'itd_bitrix_old.js', 'other.node', 'node_sqlite3.node', '.hidden'], $copies) as $f) {
            file_put_contents($agi . '/' . $f, 'x');
        }
        $removed = $this->files()->removeAgiFiles();
        sort($removed);
        $expected = array_merge($copies, ['itd_bitrix_incoming.js', 'itd_bitrix_old.js', 'itd_bitrix_sqlite3-linux-x64-glibc2.28.node', 'lib/helper.js']);
        sort($expected);
        $this->assertSame($expected, $removed, 'the private copies of the binding the bundles load go too');
        $this->assertSame(['.hidden', 'lib', 'node_sqlite3.node', 'other.node'], array_values(array_diff(scandir($agi), ['.', '..'])),
            'a shared folder stays while not empty; a binding under a generic name is not ours by name');
        $this->assertSame(['theirs.js'], array_values(array_diff(scandir($agi . '/lib'), ['.', '..'])));
    }

    public function testStaleBindingOnlyWhenNothingCanLoadIt()
    {
        $agi = $this->tmp . '/agi-bin';
        $files = $this->files();
        $this->assertFalse($files->removeStaleBinding(), 'none there');
        file_put_contents($agi . '/node_sqlite3.node', 'x');
        $this->assertFalse($files->agiCopiesAreCurrent());
        $this->assertFalse($files->removeStaleBinding(), 'the copies in ASTAGIDIR are not this version yet');
        mkdir($agi . '/lib');
        foreach (['itd_bitrix_incoming.js', 'itd_bitrix_sqlite3-linux-x64-glibc2.28.node', 'lib/helper.js'] as $f) {
            copy($this->tmp . '/module/agi-bin/' . $f, $agi . '/' . $f);
        }
        file_put_contents($agi . '/lib/helper.js', 'changed');
        $this->assertFalse($files->agiCopiesAreCurrent(), 'one file differs');
        copy($this->tmp . '/module/agi-bin/lib/helper.js', $agi . '/lib/helper.js');
        $this->assertTrue($files->agiCopiesAreCurrent());

        // The module's own folder does not count as another module; a sibling does.
        file_put_contents($this->tmp . '/module/agi-bin/node_sqlite3.node', 'x');
        mkdir($this->tmp . '/other/agi-bin', 0755, true);
        file_put_contents($this->tmp . '/other/agi-bin/node_sqlite3.node', 'x');
        $this->assertFalse($files->removeStaleBinding());
        $this->assertFalse($files->removeStaleBinding(true));
        unlink($this->tmp . '/other/agi-bin/node_sqlite3.node');
        unlink($this->tmp . '/module/agi-bin/node_sqlite3.node');
        $this->assertTrue($files->removeStaleBinding());
        $this->assertFileDoesNotExist($agi . '/node_sqlite3.node');

        file_put_contents($agi . '/node_sqlite3.node', 'x');
        unlink($agi . '/itd_bitrix_incoming.js');
        $this->assertFalse($files->removeStaleBinding());
        $this->assertTrue($files->removeStaleBinding(true), 'uninstall: the bundles go as well');
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
