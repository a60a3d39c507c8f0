<?php
namespace FreePBX\modules\Bitrix;

/** The PBX's inbound routes (core's table): the page's DID picker, and the routes whose DID is listed. */
class InboundRoutes
{
    /** @var object|null the FreePBX object */
    private $freepbx;

    public function __construct($freepbx)
    {
        $this->freepbx = $freepbx;
    }

    /** Rows of core's incoming table; none when core cannot answer. */
    public function all()
    {
        try {
            $rows = $this->freepbx->Core->getAllDIDs();
        } catch (\Exception $e) {
            return [];
        }
        return is_array($rows) ? $rows : [];
    }

    /** DIDs of the existing routes, for the picker: [['did' => …, 'description' => …], …]. */
    public function forPicker()
    {
        $out = [];
        foreach ($this->all() as $r) {
            $did = isset($r['extension']) ? trim((string)$r['extension']) : '';
            if ($did === '' || $did[0] === '_' || isset($out[$did])) {
                continue;
            }
            $desc = isset($r['description']) ? trim((string)$r['description']) : '';
            $out[$did] = ['did' => $did, 'description' => $desc];
        }
        return array_values($out);
    }

    /** Routes ([context, exten]) whose DID is listed in the settings, named the way core names them. */
    public function listed(array $s)
    {
        $wanted = [];
        foreach ($s['dids'] as $d) {
            $k = Did::key($d, $s['countryCode']);
            if ($k !== '') {
                $wanted[$k] = $d;
            }
        }
        $out = [];
        foreach ($this->all() as $r) {
            $did = isset($r['extension']) ? trim((string)$r['extension']) : '';
            $cid = isset($r['cidnum']) ? trim((string)$r['cidnum']) : '';
            if ($did === '' || !self::matches($did, $wanted, $s['dids'], $s['countryCode'])) {
                continue;
            }
            $out[] = [
                'context' => $cid !== '' ? 'ext-did-0001' : 'ext-did-0002',
                'exten' => $did . ($cid !== '' ? '/' . $cid : ''),
            ];
        }
        return $out;
    }

    private static function matches($did, array $wanted, array $listed, $cc)
    {
        if ($did[0] !== '_') {
            return isset($wanted[Did::key($did, $cc)]);
        }
        // A pattern route: report it when a listed DID, as a trunk may deliver it, fits the pattern.
        $re = Did::patternRegex($did);
        foreach ($listed as $d) {
            $k = Did::key($d, $cc);
            foreach (array_unique([$d, $k, '+' . $k]) as $candidate) {
                if ($candidate !== '' && preg_match($re, $candidate)) {
                    return true;
                }
            }
        }
        return false;
    }
}
