<?php
/**
 * Test doubles of the FreePBX framework surface the module calls — nothing more.
 * Behaviour follows the framework (BMO/DB_Helper, BMO/Cron, BMO/Job, Backup bases),
 * written for these tests.
 */
namespace FreePBX {

    interface BMO
    {
        public function install();
        public function uninstall();
    }

    /** kvstore: per-class store, arrays JSON-encoded, false deletes, missing reads as false. */
    class DB_Helper
    {
        /** @var array class => id => key => encoded value */
        public static $store = [];

        protected function kvClass()
        {
            return str_replace('\\', '_', get_class($this));
        }

        public function getConfig($key = null, $id = 'noid')
        {
            $c = $this->kvClass();
            if (!isset(self::$store[$c][$id][$key])) {
                return false;
            }
            $raw = self::$store[$c][$id][$key];
            if (is_array($raw) && isset($raw['json'])) {
                return json_decode($raw['json'], true);
            }
            return $raw;
        }

        public function setConfig($key = null, $val = false, $id = 'noid')
        {
            $c = $this->kvClass();
            if ($val === false) {
                unset(self::$store[$c][$id][$key]);
                return;
            }
            self::$store[$c][$id][$key] = (is_array($val) || is_object($val)) ? ['json' => json_encode($val)] : (string)$val;
        }

        public function setMultiConfig($keyval = false, $id = 'noid')
        {
            foreach ((array)$keyval as $k => $v) {
                $this->setConfig($k, $v, $id);
            }
        }

        public function getAll($id = 'noid')
        {
            $out = [];
            $c = $this->kvClass();
            foreach (isset(self::$store[$c][$id]) ? array_keys(self::$store[$c][$id]) : [] as $k) {
                $out[$k] = $this->getConfig($k, $id);
            }
            return $out;
        }

        public function getAllids()
        {
            $c = $this->kvClass();
            return array_values(array_diff(array_keys(isset(self::$store[$c]) ? self::$store[$c] : []), ['noid']));
        }

        public function delById($id)
        {
            unset(self::$store[$this->kvClass()][$id]);
        }

        public function deleteAll()
        {
            unset(self::$store[$this->kvClass()]);
        }
    }

    class FreePBX_Helpers extends DB_Helper
    {
    }
}

namespace FreePBX\modules\Backup {

    class BackupBase
    {
        public $FreePBX;
        public $data;
        public $configs = [];

        public function __construct($freepbx, $module)
        {
            $this->FreePBX = $freepbx;
            $this->data = ['module' => $module];
        }

        public function addConfigs($configs)
        {
            $this->configs = $configs;
        }

        public function dumpKVStore()
        {
            $module = ucfirst(strtolower($this->data['module']));
            $obj = $this->FreePBX->$module;
            $final = [];
            foreach (array_merge($obj->getAllids(), ['noid']) as $id) {
                $final[$id] = $obj->getAll($id);
            }
            return $final;
        }
    }

    class RestoreBase
    {
        public $FreePBX;
        public $data;
        private $configs;

        public function __construct($freepbx, $module, array $configs)
        {
            $this->FreePBX = $freepbx;
            $this->data = ['module' => $module];
            $this->configs = $configs;
        }

        public function getConfigs()
        {
            return $this->configs;
        }

        public function importKVStore($store)
        {
            $module = ucfirst(strtolower($this->data['module']));
            foreach ($store as $id => $kv) {
                $this->FreePBX->$module->setMultiConfig($kv, $id);
            }
        }
    }
}

namespace {

    class_alias('FreePBX\\BMO', 'BMO');
    class_alias('FreePBX\\FreePBX_Helpers', 'FreePBX_Helpers');
    class_alias('FreePBX\\DB_Helper', 'DB_Helper');

    if (!defined('FPBX_LOG_WARNING')) {
        define('FPBX_LOG_WARNING', 'WARNING');
    }

    /** The FreePBX object: BMO objects by name ($freepbx->Core, FreePBX::Core()); unknown names throw. */
    class FreePBX
    {
        public static $instance;
        private $objects = [];

        public function __construct()
        {
            self::$instance = $this;
        }

        public function register($name, $obj)
        {
            $this->objects[$name] = $obj;
        }

        public function __get($name)
        {
            if (!isset($this->objects[$name])) {
                throw new \Exception("Unable to find the Class $name");
            }
            return $this->objects[$name];
        }

        public static function __callStatic($name, $args)
        {
            return self::$instance->__get($name);
        }
    }

    class TestCore
    {
        public $dids = [];
        public $routes = [];

        public function getAllDIDs($order = 'extension')
        {
            return $this->dids;
        }

        public function getAllRoutes()
        {
            return $this->routes;
        }
    }

    class TestConfig
    {
        public $values = [];

        public function get($key)
        {
            return isset($this->values[$key]) ? $this->values[$key] : null;
        }
    }

    /** BMO Notifications: one row per module and id; add_* replaces it, delete() removes it. */
    class TestNotifications
    {
        /** @var array "module/id" => ['level', 'display_text', 'extended_text', 'link', 'reset', 'candelete'] */
        public $rows = [];

        public function add_warning($module, $id, $display_text, $extended_text = '', $link = '', $reset = false, $candelete = false)
        {
            $this->rows[$module . '/' . $id] = ['level' => 'warning'] + compact('display_text', 'extended_text', 'link', 'reset', 'candelete');
        }

        public function add_error($module, $id, $display_text, $extended_text = '', $link = '', $reset = true, $candelete = false)
        {
            $this->rows[$module . '/' . $id] = ['level' => 'error'] + compact('display_text', 'extended_text', 'link', 'reset', 'candelete');
        }

        public function delete($module, $id)
        {
            unset($this->rows[$module . '/' . $id]);
        }
    }

    class TestJob
    {
        public $jobs = [];

        public function addCommand($modulename, $jobname, $command, $schedule, $max_runtime = 30, $enabled = true)
        {
            $this->jobs[$modulename . '/' . $jobname] = compact('command', 'schedule', 'max_runtime', 'enabled');
        }

        public function remove($modulename, $jobname)
        {
            unset($this->jobs[$modulename . '/' . $jobname]);
        }
    }

    /** BMO/Cron: the asterisk user's crontab as lines; addLine() throws when the line does not stick. */
    class TestCron
    {
        public $lines = [];
        /** @var bool the crontab refuses changes (crontab missing, not allowed) */
        public $broken = false;

        public function getAll()
        {
            return $this->lines;
        }

        public function addLine($line)
        {
            if ($this->broken) {
                throw new \Exception("Cron line added didn't remain in crontab on final check");
            }
            if (!in_array(trim($line), $this->lines, true)) {
                $this->lines[] = trim($line);
            }
            return true;
        }

        public function remove($line)
        {
            $i = array_search(trim($line), $this->lines, true);
            if ($i === false) {
                return false;
            }
            unset($this->lines[$i]);
            $this->lines = array_values($this->lines);
            return true;
        }
    }

    /** BMO/Modules: which modules are installed and enabled (checkStatus, MODULE_STATUS_ENABLED). */
    class TestModules
    {
        public $enabled = [];

        public function checkStatus($modname, $status = 2)
        {
            return in_array($modname, $this->enabled, true);
        }
    }

    /**
     * Stand-in for the pm2 module's API (FreePBX/pm2 Pm2.class.php 16/17): the processes it knows
     * by name as `pm2 jlist` reports them, every call recorded. As there: start() throws while an
     * online process of that name runs unless forced, and deletes it first; stop/restart/delete/
     * reset throw for an unknown name; names are cleaned (everything after a dot dropped).
     * This one is an older pm2 module, without startFromDirectory(); TestPm2 has it.
     */
    class TestPm2Old
    {
        /** @var array[] method and arguments of every call, in order */
        public $calls = [];
        /** @var array name => jlist entry */
        public $processes = [];
        /** @var string status a started process reports: online, or errored (it exits at once) */
        public $startsAs = 'online';
        /** @var bool the pm2 binary is missing: every command throws */
        public $broken = false;
        private $pid = 4000;

        public function start($name, $process, $environment = [], $force = false)
        {
            $this->calls[] = ['start', $name, $process, $environment, $force];
            $parts = explode(' ', $process, 2);
            return $this->launch($name, $parts[0], isset($parts[1]) ? $parts[1] : '', dirname($process), $environment, $force);
        }

        public function getStatus($name)
        {
            $this->calls[] = ['getStatus', $name];
            $this->command();
            $name = $this->clean($name);
            return isset($this->processes[$name]) ? $this->processes[$name] : false;
        }

        public function stop($name)
        {
            $this->calls[] = ['stop', $name];
            $this->known($name);
            $this->processes[$this->clean($name)]['pm2_env']['status'] = 'stopped';
            $this->processes[$this->clean($name)]['pid'] = 0;
        }

        public function restart($name)
        {
            $this->calls[] = ['restart', $name];
            $this->known($name);
            $this->processes[$this->clean($name)]['pm2_env']['status'] = $this->startsAs;
        }

        public function delete($name)
        {
            $this->calls[] = ['delete', $name];
            $this->known($name);
            unset($this->processes[$this->clean($name)]);
        }

        public function reset($name)
        {
            $this->calls[] = ['reset', $name];
            $this->known($name);
            $this->processes[$this->clean($name)]['pm2_env']['restart_time'] = 0;
        }

        /** The names of the methods called, in order. */
        public function methods()
        {
            return array_column($this->calls, 0);
        }

        protected function launch($name, $script, $args, $cwd, $environment, $force)
        {
            $this->command();
            $name = $this->clean($name);
            if (!$force && isset($this->processes[$name]) && $this->processes[$name]['pm2_env']['status'] === 'online') {
                throw new \Exception('There is already a process by that name running!');
            }
            unset($this->processes[$name]);
            $env = [];
            foreach ($environment as $k => $v) {
                if ($k !== '' && is_string($v)) {
                    $env[$k] = $v;
                }
            }
            // God.executeApp: the environment is merged into the app's settings.
            $this->processes[$name] = [
                'name' => $name,
                'pid' => $this->startsAs === 'online' ? ++$this->pid : 0,
                'pm2_env' => $env + [
                    'status' => $this->startsAs,
                    'pm_exec_path' => $script,
                    'pm_cwd' => $cwd,
                    'args' => $args === '' ? [] : explode(' ', $args),
                    'restart_time' => 3,
                    'env' => $env,
                ],
                'monit' => ['memory' => 52428800, 'cpu' => 0],
            ];
            return $this->processes[$name];
        }

        private function known($name)
        {
            $this->command();
            if (!isset($this->processes[$this->clean($name)])) {
                throw new \Exception('There is no process by that name');
            }
        }

        private function command()
        {
            if ($this->broken) {
                throw new \Exception('pm2 binary does not exist run fwconsole ma install pm2 and try again');
            }
        }

        private function clean($name)
        {
            return str_replace([' ', '.'], '-', pathinfo($name, PATHINFO_FILENAME));
        }
    }

    /** The pm2 module as FreePBX 16 and 17 ship it. */
    class TestPm2 extends TestPm2Old
    {
        public function startFromDirectory($name, $process, $directory, $environment = [], $force = false)
        {
            $this->calls[] = ['startFromDirectory', $name, $process, $directory, $environment, $force];
            $parts = explode(' ', $process, 2);
            return $this->launch($name, $parts[0], isset($parts[1]) ? $parts[1] : '', $directory, $environment, $force);
        }
    }

    /** BMO Destinations: what the module asks of it (a destination's description, what uses one). */
    class TestDestinations
    {
        /** @var array destination => ['description' => …] */
        public $known = [];
        /** @var array module => usage rows ['dest', 'description', 'edit_url'] */
        public $inUse = [];

        public function getDestination($destination)
        {
            return isset($this->known[$destination]) ? $this->known[$destination] : null;
        }

        public function getAllInUseDestinations($destination = true)
        {
            $out = [];
            foreach ($this->inUse as $module => $rows) {
                foreach ($rows as $row) {
                    if ($destination === true || in_array($row['dest'], (array)$destination, true)) {
                        $out[$module][] = $row;
                    }
                }
            }
            return $out;
        }
    }

    /** FreePBX's destination picker: the framework draws it; here only its name and current value. */
    function drawselects($goto, $i, $restrict_modules = false, $table = true, $nodest_msg = '', $required = false)
    {
        return '<select name="goto' . (int)$i . '" id="goto' . (int)$i . '" data-current="' . htmlspecialchars((string)$goto, ENT_QUOTES) . '"></select>';
    }

    $GLOBALS['__needreload'] = 0;
    function needreload()
    {
        $GLOBALS['__needreload']++;
    }

    $GLOBALS['__freepbx_log'] = [];
    function freepbx_log($level, $message)
    {
        $GLOBALS['__freepbx_log'][] = [$level, $message];
    }

    /** What install and uninstall print (framework utility.functions.php: echo + EOL, and the log). */
    $GLOBALS['__out'] = [];
    function out($text, $log = true)
    {
        $GLOBALS['__out'][] = $text;
    }

    function load_view($view_filename_protected, $vars = [])
    {
        extract($vars);
        ob_start();
        include $view_filename_protected;
        return ob_get_clean();
    }
}
