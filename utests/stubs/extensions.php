<?php
/**
 * Stand-in for FreePBX's extensions class (admin/libraries/extensions.class.php) and the
 * application classes the module and its test fixtures use. It reproduces the framework's
 * behaviour, quirks included:
 *  - exten keys are stored as " <exten> ";
 *  - add(): first entry gets priority "1", later ones "n";
 *  - splice() by number inserts at that 0-based position; by label just before the first entry
 *    with that label (appended when the label is missing); position 0 turns the old first entry
 *    into "n" and throws when the list has no key 0;
 *  - splice() into an empty exten at position 1 stores the entry under key 1 (not 0); a later
 *    splice into such a list shifts entries over the keys from the position up to count(), so
 *    the entry under the highest key is lost and the new one renders as "n" above "1"
 *    (the FreePBX 17 + queues macro-auto-blkvm case);
 *  - generateConf() emits "include => <ctx>-custom" unless addSectionNoCustom(ctx, true).
 */
class extensions
{
    public $_exts = [];
    public $_section_no_custom = [];
    public $_includes = [];

    public function add($section, $extension, $tag, $command, $basetag = false, $addpriority = false)
    {
        $key = ' ' . $extension . ' ';
        if (empty($basetag)) {
            $basetag = empty($this->_exts[$section][$key]) ? '1' : 'n';
        }
        $this->_exts[$section][$key][] = ['basetag' => $basetag, 'tag' => $tag, 'addpri' => $addpriority, 'cmd' => $command];
    }

    public function addSectionNoCustom($section, $setting)
    {
        $this->_section_no_custom[$section] = (bool)$setting;
    }

    public function addInclude($section, $incsection, $comment = '')
    {
        $this->_includes[$section][] = $incsection;
    }

    public function section_exists($section)
    {
        return isset($this->_exts[$section]);
    }

    public function splice($section, $extension, $priority, $command, $new_tag = '', $offset = 0, $fixmultiplelabels = false)
    {
        $key = ' ' . $extension . ' ';
        if (!ctype_digit((string)trim((string)$priority))) {
            $found = false;
            $count = 0;
            foreach (isset($this->_exts[$section][$key]) ? $this->_exts[$section][$key] : [] as $entry) {
                if ($entry['tag'] == $priority) {
                    $found = true;
                    break;
                }
                $count++;
            }
            $priority = $found ? max(0, $count + $offset) : $count;
        }
        $priority = (int)$priority;
        if ($priority === 0) {
            if (!isset($this->_exts[$section][$key][0])) {
                throw new \Exception("died in splice $section $extension");
            }
            $this->_exts[$section][$key][0]['basetag'] = 'n';
            $basetag = '1';
        } else {
            $basetag = 'n';
        }
        $entry = ['basetag' => $basetag, 'tag' => $new_tag, 'addpri' => '', 'cmd' => $command];
        $list = isset($this->_exts[$section][$key]) ? $this->_exts[$section][$key] : [];
        $count = count($list);
        if ($count === 0) {
            if ($priority > 1) {
                throw new \Exception("Critical error when splicing into $section: empty section, priority > 1");
            }
            $entry['basetag'] = $priority;
            $this->_exts[$section][$key][$priority] = $entry;
            return;
        }
        $before = $list;
        for ($n = $priority; $n <= $count; $n++) {
            $list[$n] = ($n === $priority) ? $entry : (isset($before[$n - 1]) ? $before[$n - 1] : null);
        }
        $this->_exts[$section][$key] = $list;
    }

    public function generateConf()
    {
        $out = '';
        foreach ($this->_exts as $section => $extens) {
            $out .= "[$section]\n";
            if (empty($this->_section_no_custom[$section])) {
                $out .= "include => {$section}-custom\n";
            }
            foreach (isset($this->_includes[$section]) ? $this->_includes[$section] : [] as $inc) {
                $out .= "include => $inc\n";
            }
            foreach ($extens as $exten => $entries) {
                foreach ($entries as $e) {
                    if ($e === null) {
                        continue;
                    }
                    $cmd = $e['cmd']->output();
                    if ($cmd === false) {
                        continue;
                    }
                    $out .= 'exten => ' . trim($exten) . ',' . $e['basetag'] . ($e['addpri'] ? '+' . $e['addpri'] : '')
                        . ($e['tag'] ? '(' . $e['tag'] . ')' : '') . ',' . $cmd . "\n";
                }
                $out .= "\n";
            }
            $out .= ";--== end of [$section] ==--;\n\n\n";
        }
        return $out;
    }
}

class extension
{
    public $data;

    public function __construct($data = '')
    {
        $this->data = $data;
    }

    public function output()
    {
        return $this->data;
    }
}

class ext_setvar
{
    public $var;
    public $value;

    public function __construct($var, $value = '')
    {
        $this->var = $var;
        $this->value = $value;
    }

    public function output()
    {
        return 'Set(' . $this->var . '=' . $this->value . ')';
    }
}

class ext_set extends ext_setvar
{
}

class ext_gosub extends extension
{
    public $pri;
    public $ext;
    public $context;
    public $args;

    public function __construct($pri, $ext = false, $context = false, $args = '')
    {
        $this->pri = $pri;
        $this->ext = $ext;
        $this->context = $context;
        $this->args = $args;
    }

    public function output()
    {
        return 'Gosub(' . ($this->context ? $this->context . ',' : '') . ($this->ext ? $this->ext . ',' : '') . $this->pri . '(' . $this->args . '))';
    }
}

class ext_gosubif extends extension
{
    public $condition;
    public $true_priority;
    public $false_priority;
    public $true_args;
    public $false_args;

    public function __construct($condition, $true_priority, $false_priority = false, $true_args = '', $false_args = '')
    {
        $this->condition = $condition;
        $this->true_priority = $true_priority;
        $this->false_priority = $false_priority;
        $this->true_args = $true_args;
        $this->false_args = $false_args;
    }

    public function output()
    {
        return 'GosubIf(' . $this->condition . '?' . $this->true_priority . '(' . $this->true_args . ')'
            . ($this->false_priority ? ':' . $this->false_priority . '(' . $this->false_args . ')' : '') . ')';
    }
}

class ext_gotoif extends extension
{
    public $condition;
    public $true_priority;
    public $false_priority;

    public function __construct($condition, $true_priority, $false_priority = false)
    {
        $this->condition = $condition;
        $this->true_priority = $true_priority;
        $this->false_priority = $false_priority;
    }

    public function output()
    {
        return 'GotoIf(' . $this->condition . '?' . $this->true_priority . ($this->false_priority ? ':' . $this->false_priority : '') . ')';
    }
}

class ext_return extends extension
{
    public function output()
    {
        return 'Return(' . $this->data . ')';
    }
}

class ext_macroexit extends extension
{
    public function output()
    {
        return 'Return()';
    }
}

class ext_noop extends extension
{
    public function output()
    {
        return 'Noop(' . $this->data . ')';
    }
}

class ext_answer extends extension
{
    public function output()
    {
        return 'Answer';
    }
}

class ext_goto extends extension
{
    public $pri;
    public $ext;
    public $context;

    public function __construct($pri, $ext = false, $context = false)
    {
        $this->pri = $pri;
        $this->ext = $ext;
        $this->context = $context;
    }

    public function output()
    {
        return 'Goto(' . ($this->context ? $this->context . ',' : '') . ($this->ext ? $this->ext . ',' : '') . $this->pri . ')';
    }
}

class ext_execif
{
    public $expr;
    public $app;
    public $data;

    public function __construct($expr, $app, $data = '')
    {
        $this->expr = $expr;
        $this->app = $app;
        $this->data = $data;
    }

    public function output()
    {
        return 'ExecIf(' . $this->expr . '?' . $this->app . '(' . $this->data . '))';
    }
}

/** FreePBX 17: macros are Gosubs. */
class ext_macro
{
    public $macro;
    public $args;

    public function __construct($macro, $args = '')
    {
        $this->macro = $macro;
        $this->args = $args;
    }

    public function output()
    {
        return 'Gosub(macro-' . $this->macro . ',s,1(' . $this->args . '))';
    }
}

/** With LAUNCH_AGI_AS_FASTAGI on (the default) ext_agi rewrites to agi://127.0.0.1/. */
class ext_agi extends extension
{
    public function output()
    {
        return 'AGI(' . (preg_match('#^agi://#', $this->data) ? $this->data : 'agi://127.0.0.1/' . $this->data) . ')';
    }
}
