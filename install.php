<?php
if (!defined('FREEPBX_IS_AUTH')) { die('No direct script access allowed'); }
// The work is done by \FreePBX\modules\Bitrix::install(), which the framework runs just
// before this file: settings seeded from config.schema.json defaults, the database folder
// prepared, /etc/asterisk/itd_bitrix.json written (mode 0640) and the per-minute retry put in
// the asterisk user's crontab. The AGI files reach /var/lib/asterisk/agi-bin on the next "fwconsole reload".
if (function_exists('out')) {
    out(_('Bitrix24 Integration installed. Run "fwconsole reload" to copy the AGI scripts and generate the dialplan.'));
}
