<?php
namespace FreePBX\modules\Bitrix\Dialplan;

/**
 * Placing our lines into extens other modules generate. These read FreePBX's extensions
 * object directly ($ext->_exts, extens keyed " <exten> "), because its splice() counts
 * positions from 0 on a list that is not always keyed from 0 (see normaliseExten()).
 */
class Splice
{
    public static function extenExists($ext, $context, $exten)
    {
        return isset($ext->_exts[$context][' ' . $exten . ' ']) && count($ext->_exts[$context][' ' . $exten . ' ']) > 0;
    }

    /** First of $labels present in the exten, or null. */
    public static function findLabel($ext, $context, $exten, array $labels)
    {
        if (!self::extenExists($ext, $context, $exten)) {
            return null;
        }
        $tags = [];
        foreach ($ext->_exts[$context][' ' . $exten . ' '] as $e) {
            $tags[] = isset($e['tag']) ? (string)$e['tag'] : '';
        }
        foreach ($labels as $l) {
            if (in_array($l, $tags, true)) {
                return $l;
            }
        }
        return null;
    }

    /**
     * Re-key an exten's instruction list from 0 with "1" on the first and "n" after it, so
     * extensions::splice() (which counts positions from 0) inserts where asked and loses nothing.
     * A module that splices at position 1 into an exten before its owner creates it (queues into
     * macro-auto-blkvm) leaves the list keyed from 1.
     * @return array the re-keyed list
     */
    public static function normaliseExten($ext, $context, $exten)
    {
        $key = ' ' . $exten . ' ';
        $list = array_values($ext->_exts[$context][$key]);
        foreach ($list as $i => $e) {
            if ($i === 0) {
                $list[$i]['basetag'] = '1';
            } elseif ((string)$e['basetag'] === '1') {
                $list[$i]['basetag'] = 'n';
            }
        }
        $ext->_exts[$context][$key] = $list;
        return $list;
    }

    /**
     * Puts $app last in a subroutine that exists: before its closing Return() (a macro as Gosub,
     * FreePBX 17) or MacroExit(), else after its last line (a macro that just ends, FreePBX 16).
     */
    public static function beforeReturn($ext, $context, $exten, $app)
    {
        $list = self::normaliseExten($ext, $context, $exten);
        $last = end($list);
        $lastCmd = is_array($last) && isset($last['cmd']) && is_object($last['cmd']) ? $last['cmd']->output() : '';
        if (count($list) > 1 && preg_match('/^(Return|MacroExit)\(/', (string)$lastCmd)) {
            $ext->splice($context, $exten, count($list) - 1, $app);
        } else {
            $ext->add($context, $exten, '', $app);
        }
    }
}
