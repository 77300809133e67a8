// SPDX-License-Identifier: UNLICENSED
// FlyTrap access control: MQTT topic entries, who may publish or subscribe
// to them until when, from which countries, and the public audit trail
// (ACLChange events) of grants, purchases, alerts and summaries.
// The model and every call are documented in docs/CONTRACT.md.
pragma solidity 0.8.30;

contract FlyTrap {
    // ---- Events ------------------------------------------------------------

    /// Numbering is part of the ABI (audit tools and chaind decode it):
    /// values are only ever appended, never reordered.
    enum Action {
        AddTopic, // 0  topic created
        AddPub, // 1  publish right granted or bought
        AddSub, // 2  subscribe right granted or bought
        RevokePub, // 3  publish right revoked
        RevokeSub, // 4  subscribe right revoked
        WrongCountry, // 5  reporter alert
        Banned, // 6  reporter alert
        Summary, // 7  reporter summary of sensitive-topic accesses
        TopicChanged, // 8  topic setting changed; reason names the setting
        Withdraw, // 9  credit paid out; reason = amount in wei
        AddReporter, // 10
        RemoveReporter, // 11
        FeeChanged, // 12 reason = new fee in wei
        OwnerChanged // 13 contract ownership transferred
    }

    event ACLChange(
        address indexed source,
        address indexed target,
        Action indexed action,
        string name,
        string reason,
        uint256 timestamp
    );

    /// Emitted right after every Summary ACLChange, in the same transaction.
    event SummaryRoot(bytes32 indexed root, string name, uint256 periodStart, uint256 periodEnd);

    // ---- Errors (selectors listed in docs/CONTRACT.md) ---------------------

    error NotOwner();
    error NotReporter();
    error NotTopicOwner();
    error UnknownTopic();
    error TopicExists();
    error BadName();
    error BadCountry();
    error BadExpiry();
    error BadAddress();
    error BadAction();
    error WrongFee();
    error WrongPrice();
    error SelfServiceClosed();
    error AlreadyGranted();
    error NoCredit();
    error TransferFailed();

    // ---- Storage -----------------------------------------------------------

    uint64 private constant FOREVER = type(uint64).max;

    struct Topic {
        address owner; // slot 0; address(0) = no such topic
        uint64 period; //   seconds a purchase lasts, 0 = forever
        bool sensitive;
        bool closed; //   self-service closed (open by default)
        uint128 pubPrice; // slot 1; wei, 0 = free
        uint128 subPrice;
        // Slots 2..17: the byte string count, code 0, code 1, ... packed
        // into as many words as it needs (none when there are no countries).
        uint256[16] countries;
        // One slot per address: publish expiry | subscribe expiry << 64.
        // Expiry 0 = no right, FOREVER = never ends, otherwise the right
        // holds while block.timestamp < expiry.
        mapping(address => uint256) rights;
    }

    // Slot 0: everything addTopic reads and writes besides the topic itself.
    uint96 public fee; // topic-creation fee in wei
    uint128 private _feeCredit; // fees not yet withdrawn, the owner's
    uint32 public topicCount;

    address public owner;
    mapping(address => bool) public isReporter;
    mapping(address => uint256) private _credit; // pull payments
    mapping(bytes32 => Topic) private _topics; // keccak256(bytes(name))
    // Topic names in creation order, under keccak256(index, slot): the first
    // word holds the length in its top two bytes and the first 30 bytes, the
    // next words the rest, 32 bytes each (a name of up to 30 bytes = 1 slot).
    mapping(uint256 => bytes32) private _names;

    constructor(uint96 fee_) {
        owner = msg.sender;
        fee = fee_;
    }

    // ---- Contract owner ----------------------------------------------------

    function _onlyOwner() private view {
        if (msg.sender != owner) revert NotOwner();
    }

    function setFee(uint96 newFee) external {
        _onlyOwner();
        fee = newFee;
        _log(msg.sender, Action.FeeChanged, _none(), _decimal(newFee, false));
    }

    /// Adds (enabled) or removes a reporter.
    function setReporter(address who, bool enabled) external {
        _onlyOwner();
        if (who == address(0)) revert BadAddress();
        isReporter[who] = enabled;
        _log(who, enabled ? Action.AddReporter : Action.RemoveReporter, _none(), "");
    }

    /// Fees collected so far stay the old owner's to withdraw.
    function transferOwnership(address newOwner) external {
        _onlyOwner();
        if (newOwner == address(0)) revert BadAddress();
        uint128 fees = _feeCredit;
        if (fees != 0) {
            _feeCredit = 0;
            unchecked {
                _credit[msg.sender] += fees;
            }
        }
        owner = newOwner;
        _log(newOwner, Action.OwnerChanged, _none(), "");
    }

    // ---- Payments ----------------------------------------------------------
    // Credits are sums of wei paid into this contract, so they cannot
    // overflow: the additions below are unchecked.

    /// Wei `who` may withdraw (the contract owner's includes pending fees).
    function credit(address who) external view returns (uint256) {
        unchecked {
            return _credit[who] + (who == owner ? _feeCredit : 0);
        }
    }

    /// Sends the caller everything credited to it (checks-effects-interactions).
    function withdraw() external {
        uint256 amount = _credit[msg.sender];
        if (msg.sender == owner) {
            unchecked {
                amount += _feeCredit;
            }
            _feeCredit = 0;
        }
        if (amount == 0) revert NoCredit();
        _credit[msg.sender] = 0;
        _log(msg.sender, Action.Withdraw, _none(), _decimal(amount, false));
        (bool ok, ) = msg.sender.call{value: amount}("");
        if (!ok) revert TransferFailed();
    }

    // ---- Topics ------------------------------------------------------------

    function addTopic(
        string calldata name,
        bool sensitive,
        uint128 pubPrice,
        uint128 subPrice,
        uint64 period,
        bytes2[] calldata countries
    ) external payable {
        uint256 len = bytes(name).length;
        if (len == 0 || len > 65535) revert BadName();
        if (msg.value != fee) revert WrongFee();
        Topic storage t = _topics[_key(name)];
        if (t.owner != address(0)) revert TopicExists();
        t.owner = msg.sender;
        t.period = period;
        t.sensitive = sensitive;
        if (pubPrice | subPrice != 0) {
            t.pubPrice = pubPrice;
            t.subPrice = subPrice;
        }
        if (countries.length != 0) _storeCountries(t, countries, 0);
        uint32 n = topicCount;
        _storeName(n, name);
        unchecked {
            // Neither can overflow: 2^32 topics or 2^128 wei are out of reach.
            topicCount = n + 1;
            _feeCredit += uint128(msg.value);
        }
        _log(msg.sender, Action.AddTopic, name, "");
    }

    /// expiry: unix time the right ends; 0 = forever.
    function grant(
        string calldata name,
        address who,
        bool publish,
        uint64 expiry,
        string calldata reason
    ) external {
        Topic storage t = _ownedTopic(name);
        if (expiry == 0) expiry = FOREVER;
        else if (expiry <= block.timestamp) revert BadExpiry();
        _setRight(t, who, publish, expiry);
        _logc(who, publish ? Action.AddPub : Action.AddSub, name, reason);
    }

    function revoke(string calldata name, address who, bool publish, string calldata reason) external {
        _setRight(_ownedTopic(name), who, publish, 0);
        _logc(who, publish ? Action.RevokePub : Action.RevokeSub, name, reason);
    }

    /// Self-service purchase (or free join) of a right for forWho
    /// (address(0) = the caller); extends an unexpired right by one period.
    function buy(string calldata name, bool publish, address forWho) external payable {
        Topic storage t = _topics[_key(name)];
        address topicOwner = t.owner;
        if (topicOwner == address(0)) revert UnknownTopic();
        if (t.closed) revert SelfServiceClosed();
        uint256 price = publish ? t.pubPrice : t.subPrice;
        if (msg.value != price) revert WrongPrice();
        if (forWho == address(0)) forWho = msg.sender;
        uint256 current = _right(t, forWho, publish);
        if (current == FOREVER) revert AlreadyGranted();
        uint256 period = t.period;
        uint256 expiry = FOREVER;
        if (period != 0) {
            uint256 end = (current > block.timestamp ? current : block.timestamp) + period;
            if (end < FOREVER) expiry = end;
        }
        _setRight(t, forWho, publish, expiry);
        unchecked {
            if (price != 0) _credit[topicOwner] += price;
        }
        _log(
            forWho,
            publish ? Action.AddPub : Action.AddSub,
            name,
            price == 0 ? "free" : _decimal(price, true)
        );
    }

    function setPrices(string calldata name, uint128 pubPrice, uint128 subPrice) external {
        Topic storage t = _ownedTopic(name);
        t.pubPrice = pubPrice;
        t.subPrice = subPrice;
        _log(msg.sender, Action.TopicChanged, name, "prices");
    }

    function setCountries(string calldata name, bytes2[] calldata countries) external {
        Topic storage t = _ownedTopic(name);
        _storeCountries(t, countries, _countryCount(t));
        _log(msg.sender, Action.TopicChanged, name, "countries");
    }

    function setSensitive(string calldata name, bool sensitive) external {
        _ownedTopic(name).sensitive = sensitive;
        _log(msg.sender, Action.TopicChanged, name, "sensitive");
    }

    function setSelfService(string calldata name, bool open) external {
        _ownedTopic(name).closed = !open;
        _log(msg.sender, Action.TopicChanged, name, "selfService");
    }

    function setPeriod(string calldata name, uint64 period) external {
        _ownedTopic(name).period = period;
        _log(msg.sender, Action.TopicChanged, name, "period");
    }

    function transferTopic(string calldata name, address newOwner) external {
        if (newOwner == address(0)) revert BadAddress();
        _ownedTopic(name).owner = newOwner;
        _log(newOwner, Action.TopicChanged, name, "owner");
    }

    // ---- Reporters ---------------------------------------------------------

    function _onlyReporter() private view {
        if (!isReporter[msg.sender]) revert NotReporter();
    }

    function logAlert(Action action, address target, string calldata name, string calldata reason)
        external
    {
        _onlyReporter();
        // WrongCountry and Banned are adjacent (5, 6).
        if (action < Action.WrongCountry || action > Action.Banned) revert BadAction();
        _logc(target, action, name, reason);
    }

    /// root: Merkle root of the period's access records (0 if none).
    function logSummary(
        string calldata name,
        string calldata reason,
        bytes32 root,
        uint64 periodStart,
        uint64 periodEnd
    ) external {
        _onlyReporter();
        _logc(address(0), Action.Summary, name, reason);
        emit SummaryRoot(root, name, periodStart, periodEnd);
    }

    // ---- Views -------------------------------------------------------------

    /// The access question in one call: rights of `who` on entry `name`, the
    /// entry's sensitivity and countries, and the block the answer is as of.
    function access(string calldata name, address who)
        external
        view
        returns (
            bool exists,
            uint64 pubExpiry,
            uint64 subExpiry,
            bool sensitive,
            bytes2[] memory countries,
            uint256 blockNumber
        )
    {
        Topic storage t = _topics[_key(name)];
        uint256 rights = t.rights[who];
        exists = t.owner != address(0);
        pubExpiry = uint64(rights);
        subExpiry = uint64(rights >> 64);
        sensitive = t.sensitive;
        countries = _loadCountries(t);
        blockNumber = block.number;
    }

    function topic(string calldata name)
        external
        view
        returns (
            bool exists,
            address topicOwner,
            bool sensitive,
            bool selfService,
            uint128 pubPrice,
            uint128 subPrice,
            uint64 period,
            bytes2[] memory countries,
            uint256 blockNumber
        )
    {
        Topic storage t = _topics[_key(name)];
        topicOwner = t.owner;
        exists = topicOwner != address(0);
        return (
            exists,
            topicOwner,
            t.sensitive,
            exists && !t.closed,
            t.pubPrice,
            t.subPrice,
            t.period,
            _loadCountries(t),
            block.number
        );
    }

    function topicNameAt(uint256 index) external view returns (string memory name) {
        if (index >= topicCount) revert UnknownTopic();
        assembly ("memory-safe") {
            mstore(0, index)
            mstore(0x20, _names.slot)
            let slot := keccak256(0, 0x40)
            let word := sload(slot)
            let len := shr(240, word)
            name := mload(0x40)
            mstore(name, len)
            mstore(add(name, 0x20), shl(16, word))
            for { let i := 30 } lt(i, len) { i := add(i, 32) } {
                slot := add(slot, 1)
                mstore(add(add(name, 0x20), i), sload(slot))
            }
            mstore(0x40, add(name, add(64, and(add(len, 31), not(31)))))
        }
    }

    // ---- Internals ---------------------------------------------------------

    function _ownedTopic(string calldata name) private view returns (Topic storage t) {
        t = _topics[_key(name)];
        address o = t.owner;
        if (o == address(0)) revert UnknownTopic();
        if (o != msg.sender) revert NotTopicOwner();
    }

    function _right(Topic storage t, address who, bool publish) private view returns (uint256) {
        return uint64(t.rights[who] >> (publish ? 0 : 64));
    }

    /// The key of a topic: keccak256 of its name's bytes.
    function _key(string calldata name) private pure returns (bytes32 key) {
        assembly ("memory-safe") {
            let p := mload(0x40)
            calldatacopy(p, name.offset, name.length)
            key := keccak256(p, name.length)
        }
    }

    /// Writes name number `index` in the layout described at _names.
    function _storeName(uint256 index, string calldata name) private {
        assembly ("memory-safe") {
            mstore(0, index)
            mstore(0x20, _names.slot)
            let slot := keccak256(0, 0x40)
            let len := name.length
            // Copied through memory so that bytes past the end read as zero.
            let p := mload(0x40)
            calldatacopy(add(p, 2), name.offset, len)
            mstore(add(add(p, 2), len), 0)
            mstore8(p, shr(8, len))
            mstore8(add(p, 1), len)
            for { let i := 0 } lt(i, add(len, 2)) { i := add(i, 32) } {
                sstore(slot, mload(add(p, i)))
                slot := add(slot, 1)
            }
        }
    }

    function _setRight(Topic storage t, address who, bool publish, uint256 expiry) private {
        if (who == address(0)) revert BadAddress();
        uint256 shift = publish ? 0 : 64;
        t.rights[who] = (t.rights[who] & ~(uint256(FOREVER) << shift)) | (expiry << shift);
    }

    function _logc(address target, Action action, string calldata name, string calldata reason) private {
        emit ACLChange(msg.sender, target, action, name, reason, block.timestamp);
    }

    function _log(address target, Action action, string calldata name, string memory reason) private {
        emit ACLChange(msg.sender, target, action, name, reason, block.timestamp);
    }

    /// Stores ISO 3166 alpha-2 codes (each two of 'A'..'Z') as the byte
    /// string count, c0, c1, ... in the topic's country words, clearing the
    /// words an older, longer list used. Reverts BadCountry.
    function _storeCountries(Topic storage t, bytes2[] calldata cs, uint256 oldCount) private {
        uint256 n = cs.length;
        if (n > 255) revert BadCountry();
        bool bad;
        assembly ("memory-safe") {
            let buf := mload(0x40) // scratch only: never allocated
            mstore(buf, shl(248, n))
            for { let i := 0 } lt(i, n) { i := add(i, 1) } {
                let c := shr(240, calldataload(add(cs.offset, shl(5, i))))
                let a := sub(shr(8, c), 65) // wraps below 'A'
                let b := sub(and(c, 0xff), 65)
                bad := or(bad, or(gt(a, 25), gt(b, 25)))
                mstore(add(buf, add(1, shl(1, i))), shl(240, c))
            }
            let slot := add(t.slot, 2)
            let words := shr(5, add(shl(1, n), 32)) // ceil((1 + 2n) / 32)
            let old := shr(5, add(shl(1, oldCount), 32))
            if iszero(n) { words := 0 }
            if iszero(oldCount) { old := 0 }
            for { let w := 0 } lt(w, words) { w := add(w, 1) } {
                sstore(add(slot, w), mload(add(buf, shl(5, w))))
            }
            for { let w := words } lt(w, old) { w := add(w, 1) } {
                sstore(add(slot, w), 0)
            }
        }
        if (bad) revert BadCountry();
    }

    function _countryCount(Topic storage t) private view returns (uint256 n) {
        assembly ("memory-safe") {
            n := shr(248, sload(add(t.slot, 2)))
        }
    }

    function _loadCountries(Topic storage t) private view returns (bytes2[] memory cs) {
        uint256 n = _countryCount(t);
        cs = new bytes2[](n);
        assembly ("memory-safe") {
            let slot := add(t.slot, 2)
            let buf := mload(0x40) // scratch after the array
            let words := shr(5, add(shl(1, n), 32))
            for { let w := 0 } lt(w, words) { w := add(w, 1) } {
                mstore(add(buf, shl(5, w)), sload(add(slot, w)))
            }
            for { let i := 0 } lt(i, n) { i := add(i, 1) } {
                mstore(add(cs, shl(5, add(i, 1))), and(mload(add(buf, add(1, shl(1, i)))), shl(240, 0xffff)))
            }
        }
    }

    /// An empty calldata string, for events that name no topic.
    function _none() private pure returns (string calldata) {
        return string(msg.data[0:0]);
    }

    /// v in decimal, after "paid:" when paid is set (event reasons).
    function _decimal(uint256 v, bool paid) private pure returns (string memory s) {
        assembly ("memory-safe") {
            // Digits are written backwards from the end of a 128-byte scratch
            // area (at most 78 digits + 5 prefix bytes + the length word).
            let end := add(mload(0x40), 128)
            let p := end
            for {} 1 {} {
                p := sub(p, 1)
                mstore8(p, add(48, mod(v, 10)))
                v := div(v, 10)
                if iszero(v) { break }
            }
            if paid {
                p := sub(p, 5)
                mstore(sub(p, 27), 0x706169643a) // "paid:" in the word's last 5 bytes
            }
            s := sub(p, 32)
            mstore(s, sub(end, p))
            mstore(0x40, end)
        }
    }
}
