<?php
namespace FreePBX\modules\Bitrix\Dialplan;

/**
 * How a hook runs one of our steps (incoming, show, outgoing, hangup): the only place AGI() lines
 * are written. Classic AGI of agi-bin/itd_bitrix_<step>.js, written raw: FreePBX's ext_agi would
 * rewrite it to its own FastAGI proxy (ARCHITECTURE.md §5). With the resident service (a port),
 * FastAGI to it on loopback first; when Asterisk cannot connect (AGISTATUS FAILURE, at once on a
 * refused port) the same step as the classic AGI. A step the service took and a caller who hung
 * up meanwhile are not FAILURE: the step is never run twice.
 */
class AgiStep
{
    /** @var int|null the resident service's port; null: classic AGI only */
    private $port;

    /** @param int|null $port the resident service's FastAGI port (ResidentService), or null */
    public function __construct($port = null)
    {
        $this->port = $port === null ? null : (int)$port;
    }

    /** The executable of a step in ASTAGIDIR. */
    public static function script($step)
    {
        return 'itd_bitrix_' . $step . '.js';
    }

    /**
     *   exten => <exten>,n,AGI(itd_bitrix_<step>.js[,<args>])
     * or, with the resident service:
     *   exten => <exten>,n,AGI(agi://127.0.0.1:<port>/<step>[,<args>])
     *   exten => <exten>,n,ExecIf($["${AGISTATUS}"="FAILURE"]?AGI(itd_bitrix_<step>.js[,<args>]))
     * @param string $args the AGI's arguments as dialplan text (identifiers only: DID, extension, `out`)
     * @param \extension[] $onService lines between the two, where AGISTATUS is the service's (with the service only)
     */
    public function add($ext, $context, $exten, $step, $args = '', array $onService = [])
    {
        $tail = $args !== '' ? ',' . $args : '';
        $local = 'AGI(' . self::script($step) . $tail . ')';
        if ($this->port === null) {
            $ext->add($context, $exten, '', new \extension($local));
            return;
        }
        $this->addServiceOnly($ext, $context, $exten, $step, $args);
        foreach ($onService as $line) {
            $ext->add($context, $exten, '', $line);
        }
        $ext->add($context, $exten, '', new \extension('ExecIf($["${AGISTATUS}"="FAILURE"]?' . $local . ')'));
    }

    /** Whether the steps go through the resident service. */
    public function hasService()
    {
        return $this->port !== null;
    }

    /**
     * A step only the resident service has (ringing cards), no executable after it:
     *   exten => <exten>,n,AGI(agi://127.0.0.1:<port>/<step>[,<args>])
     * Nothing without the service.
     */
    public function addServiceOnly($ext, $context, $exten, $step, $args = '')
    {
        if ($this->port === null) {
            return;
        }
        $tail = $args !== '' ? ',' . $args : '';
        $ext->add($context, $exten, '', new \extension('AGI(agi://127.0.0.1:' . $this->port . '/' . $step . $tail . ')'));
    }
}
