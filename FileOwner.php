<?php
namespace FreePBX\modules\Bitrix;

/** Gives files the module creates to the asterisk user, when running as root. */
class FileOwner
{
    /** @var bool */
    private $enabled;

    /** @param bool $enabled false for tests and admins who manage ownership themselves */
    public function __construct($enabled = true)
    {
        $this->enabled = (bool)$enabled;
    }

    public function giveToAsterisk($path)
    {
        if (!$this->enabled || !function_exists('posix_geteuid') || posix_geteuid() !== 0) {
            return;
        }
        $user = function_exists('posix_getpwnam') ? @posix_getpwnam('asterisk') : false;
        if (is_array($user)) {
            @chown($path, 'asterisk');
            @chgrp($path, (int)$user['gid']);
        }
    }
}
