<?php
/**
 * FreePBX discovers module destinations through these functions (framework BMO/Destinations:
 * <rawname>_destinations() for the destination pickers, _getdestinfo() to name a destination and
 * find orphans, _check_destinations() for what a module's own settings point at,
 * _change_destination() when another module renumbers one; _getdest() for the popover flow).
 * They hand over to the BMO class: the "Bitrix24: responsible manager" destinations.
 *
 * License: GPL-3.0-or-later
 */
if (!defined('FREEPBX_IS_AUTH')) {
    die('No direct script access allowed');
}

function bitrix_destinations($index = '')
{
    return \FreePBX::Bitrix()->destinations();
}

function bitrix_getdest($id)
{
    return \FreePBX::Bitrix()->getDest($id);
}

function bitrix_getdestinfo($dest)
{
    return \FreePBX::Bitrix()->getDestInfo($dest);
}

function bitrix_check_destinations($dest = true)
{
    return \FreePBX::Bitrix()->checkDestinations($dest);
}

function bitrix_change_destination($old_dest, $new_dest)
{
    return \FreePBX::Bitrix()->changeDestination($old_dest, $new_dest);
}
