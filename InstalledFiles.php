<?php
namespace FreePBX\modules\Bitrix;

/**
 * Files of the module outside its folder that FreePBX does not clean up: the AGI copies in
 * ASTAGIDIR (reload copies agi-bin/ there and never removes it) and the call database with
 * what lives beside it. Install prepares the database folder; uninstall removes them all.
 */
class InstalledFiles
{
    /** The SQLite binding as version 17.0.1 shipped it, under the sqlite3 package's generic name. */
    const STALE_BINDING = 'node_sqlite3.node';

    /** @var string ASTAGIDIR */
    private $agiDir;
    /** @var string the module's own folder (its agi-bin/ lists what reload copied) */
    private $moduleDir;
    /** @var FileOwner */
    private $owner;

    public function __construct($agiDir, $moduleDir, FileOwner $owner)
    {
        $this->agiDir = (string)$agiDir;
        $this->moduleDir = (string)$moduleDir;
        $this->owner = $owner;
    }

    /** The database's folder, created for the asterisk user when missing. */
    public function prepareDatabaseDir($databasePath)
    {
        $dir = dirname($databasePath);
        if (!is_dir($dir)) {
            @mkdir($dir, 0750, true);
            $this->owner->giveToAsterisk($dir);
        }
    }

    /**
     * The SQLite file and its -wal/-shm/-journal, the hangup journal, databases moved aside as
     * corrupt, and the resident service's status file (with a temporary one a write left).
     */
    public function removeDatabase($databasePath)
    {
        $db = $databasePath;
        if (!is_string($db) || substr($db, -7) !== '.sqlite') {
            return;
        }
        foreach (['', '-wal', '-shm', '-journal'] as $suffix) {
            if (is_file($db . $suffix)) {
                @unlink($db . $suffix);
            }
        }
        // The hangup journal (and files a retry had taken), databases moved aside as corrupt, the service's status.
        foreach (array_merge(glob($db . '.hangups*') ?: [], glob($db . '.corrupt-*') ?: [], glob($db . '.service.json*') ?: []) as $extra) {
            if (is_file($extra)) {
                @unlink($extra);
            }
        }
    }

    /**
     * Removes exactly the files this module ships (as listed in its own agi-bin/ now),
     * anything named itd_bitrix*, and the private copies of the SQLite binding the bundles load
     * (.itd_bitrix_sqlite3-*, with a temp file a killed process left); returns what was removed.
     */
    public function removeAgiFiles()
    {
        $dest = $this->agiDir;
        $removed = [];
        $src = $this->moduleDir . '/agi-bin';
        $dirs = [];
        if (is_dir($src)) {
            $it = new \RecursiveIteratorIterator(new \RecursiveDirectoryIterator($src, \FilesystemIterator::SKIP_DOTS), \RecursiveIteratorIterator::SELF_FIRST);
            foreach ($it as $f) {
                $rel = substr($f->getPathname(), strlen($src) + 1);
                if ($f->isDir()) {
                    $dirs[] = $rel;
                } elseif (is_file($dest . '/' . $rel) || is_link($dest . '/' . $rel)) {
                    @unlink($dest . '/' . $rel);
                    $removed[] = $rel;
                }
            }
        }
        rsort($dirs);
        foreach ($dirs as $rel) {
            @rmdir($dest . '/' . $rel); // only succeeds when empty
        }
        foreach (array_merge(glob($dest . '/itd_bitrix*') ?: [], glob($dest . '/.itd_bitrix_sqlite3-*') ?: []) as $path) {
            if (!is_string($path)) {
                continue;
            }
            self::removeTree($path);
            $removed[] = basename($path);
        }
        return array_values(array_unique($removed));
    }

    /**
     * The binding 17.0.1 left in ASTAGIDIR, once nothing can load it: no other module ships a
     * file of that name (modules/<other>/agi-bin/node_sqlite3.node), and the bundles in ASTAGIDIR
     * are this version's, which load itd_bitrix_sqlite3-*.node (reload copied them; until then the
     * 17.0.1 bundles, which still run the calls, need it). On uninstall the bundles go too.
     * @return bool whether it was removed
     */
    public function removeStaleBinding($uninstalling = false)
    {
        $path = $this->agiDir . '/' . self::STALE_BINDING;
        if (!is_file($path) || $this->shippedByAnotherModule(self::STALE_BINDING)) {
            return false;
        }
        if (!$uninstalling && !$this->agiCopiesAreCurrent()) {
            return false;
        }
        return @unlink($path);
    }

    /** Whether ASTAGIDIR holds every file of the module's agi-bin/ as it is now (reload copied this version). */
    public function agiCopiesAreCurrent()
    {
        $shipped = $this->shippedAgiFiles();
        foreach ($shipped as $rel) {
            $mine = $this->moduleDir . '/agi-bin/' . $rel;
            $copy = $this->agiDir . '/' . $rel;
            if (!is_file($copy) || filesize($copy) !== filesize($mine) || md5_file($copy) !== md5_file($mine)) {
                return false;
            }
        }
        return $shipped !== [];
    }

    private function shippedByAnotherModule($name)
    {
        $mine = realpath($this->moduleDir);
        foreach (glob(dirname($this->moduleDir) . '/*/agi-bin/' . $name) ?: [] as $file) {
            if (realpath(dirname(dirname($file))) !== $mine) {
                return true;
            }
        }
        return false;
    }

    /** @return string[] paths of the files in the module's agi-bin/, relative to it */
    private function shippedAgiFiles()
    {
        $src = $this->moduleDir . '/agi-bin';
        $files = [];
        if (is_dir($src)) {
            $it = new \RecursiveIteratorIterator(new \RecursiveDirectoryIterator($src, \FilesystemIterator::SKIP_DOTS));
            foreach ($it as $f) {
                if ($f->isFile()) {
                    $files[] = substr($f->getPathname(), strlen($src) + 1);
                }
            }
        }
        sort($files);
        return $files;
    }

    private static function removeTree($path)
    {
        if (is_dir($path) && !is_link($path)) {
            foreach ((array)scandir($path) as $f) {
                if ($f !== '.' && $f !== '..' && is_string($f)) {
                    self::removeTree($path . '/' . $f);
                }
            }
            @rmdir($path);
        } else {
            @unlink($path);
        }
    }
}
