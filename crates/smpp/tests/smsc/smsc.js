#!/usr/bin/env node
// A test SMSC for warden-smpp's integration tests, built on the server of
// the npm package `smpp` (node-smpp), so that the client is checked against
// an SMPP implementation it was not written with.
//
//   node smsc.js [--port N] [--system-id ID] [--password PW]
//                [--throttle N] [--delay-ms N] [--enquire-link-ms N] [--quiet]
//
// --port N            port to listen on (0, the default: any free port)
// --system-id, --password
//                     the only credentials accepted (default warden/secret);
//                     anything else is answered ESME_RBINDFAIL
// --throttle N        answer ESME_RTHROTTLED to a submit_sm when N have been
//                     accepted on the session within the last second
// --delay-ms N        wait N ms before answering each submit_sm (so that the
//                     client's window fills and can be observed)
// --enquire-link-ms N send enquire_link to every bound session every N ms
// --quiet             no submit_sm events (for throughput measurements)
//
// The first line on stdout is the port. Every further line is one JSON
// event: bind, bind_refused, submit_sm (each segment, with the number of
// submit_sm awaiting their response), throttled, concatenated (a long
// message whose segments have all arrived, joined), deliver_sm_resp (the
// client's answers to receipts and replies), enquire_link,
// enquire_link_resp, unbind, close.
//
// Accepted messages get a delivery receipt (deliver_sm, esm_class 4, the
// standard receipt text; odd ids also carry the receipted_message_id and
// message_state TLVs, even ids only the text) when registered_delivery asks
// for one and the session can receive. A message to +15550000001 is answered
// by a mobile-originated "1" from that number: a safe reply.
'use strict';

const smpp = require('smpp');

const SAFE_REPLY_NUMBER = '15550000001';

function parseArgs(argv) {
  const options = {
    port: 0,
    systemId: 'warden',
    password: 'secret',
    throttle: 0,
    delayMs: 0,
    enquireLinkMs: 0,
    quiet: false,
  };
  const names = {
    '--port': 'port',
    '--system-id': 'systemId',
    '--password': 'password',
    '--throttle': 'throttle',
    '--delay-ms': 'delayMs',
    '--enquire-link-ms': 'enquireLinkMs',
  };
  for (let i = 0; i < argv.length; i += 2) {
    if (argv[i] === '--quiet') {
      options.quiet = true;
      i -= 1;
      continue;
    }
    const key = names[argv[i]];
    if (!key || i + 1 >= argv.length) {
      process.stderr.write(`smsc.js: bad argument ${argv[i]}\n`);
      process.exit(2);
    }
    options[key] = typeof options[key] === 'number' ? Number(argv[i + 1]) : argv[i + 1];
  }
  return options;
}

const options = parseArgs(process.argv.slice(2));

function log(event) {
  process.stdout.write(JSON.stringify(event) + '\n');
}

// YYMMDDhhmm, as receipts write dates.
function receiptDate(date) {
  const two = (n) => String(n).padStart(2, '0');
  return two(date.getUTCFullYear() % 100) + two(date.getUTCMonth() + 1) +
    two(date.getUTCDate()) + two(date.getUTCHours()) + two(date.getUTCMinutes());
}

// The concatenation element (IEI 0x00, 8-bit reference) of a segment, as
// node-smpp hands the UDH over: a list of buffers, one per element.
function concatPart(udh) {
  for (const element of udh || []) {
    if (element[0] === 0x00 && element[1] === 3) {
      return { ref: element[2], total: element[3], seq: element[4] };
    }
  }
  return null;
}

let nextMessageId = 1;
const segments = new Map(); // source|destination|ref|total -> { texts, ids }

const server = smpp.createServer((session) => {
  let boundAs = null;
  let outstanding = 0;
  let accepted = []; // times of the submit_sm accepted in the last second
  let enquireTimer = null;

  session.on('error', (e) => log({ event: 'error', message: e.message }));
  session.on('close', () => {
    if (enquireTimer) clearInterval(enquireTimer);
    log({ event: 'close' });
  });

  function bind(pdu) {
    if (pdu.system_id !== options.systemId || pdu.password !== options.password) {
      log({ event: 'bind_refused', command: pdu.command, system_id: pdu.system_id });
      session.send(pdu.response({ command_status: smpp.ESME_RBINDFAIL }));
      session.close();
      return;
    }
    boundAs = pdu.command;
    log({ event: 'bind', command: pdu.command, system_id: pdu.system_id,
      interface_version: pdu.interface_version });
    session.send(pdu.response({ system_id: 'NodeSMSC' }));
    if (options.enquireLinkMs > 0 && !enquireTimer) {
      enquireTimer = setInterval(() => {
        session.enquire_link({}, (resp) =>
          log({ event: 'enquire_link_resp', status: resp.command_status }));
      }, options.enquireLinkMs);
    }
  }
  session.on('bind_transmitter', bind);
  session.on('bind_transceiver', bind);
  session.on('bind_receiver', bind);

  const canReceive = () => boundAs === 'bind_transceiver' || boundAs === 'bind_receiver';

  session.on('submit_sm', (pdu) => {
    if (!boundAs || boundAs === 'bind_receiver') {
      session.send(pdu.response({ command_status: smpp.ESME_RINVBNDSTS }));
      return;
    }
    const now = Date.now();
    accepted = accepted.filter((t) => now - t < 1000);
    if (options.throttle > 0 && accepted.length >= options.throttle) {
      log({ event: 'throttled', destination: pdu.destination_addr });
      session.send(pdu.response({ command_status: smpp.ESME_RTHROTTLED }));
      return;
    }
    accepted.push(now);
    outstanding += 1;
    const messageId = (nextMessageId++).toString(16).toUpperCase().padStart(8, '0');
    const sm = pdu.short_message || {};
    const text = typeof sm.message === 'string' ? sm.message : String(sm.message || '');
    const part = concatPart(sm.udh);
    if (!options.quiet) log({
      event: 'submit_sm',
      message_id: messageId,
      source: pdu.source_addr,
      source_ton: pdu.source_addr_ton,
      destination: pdu.destination_addr,
      destination_ton: pdu.dest_addr_ton,
      esm_class: pdu.esm_class,
      data_coding: pdu.data_coding,
      registered_delivery: pdu.registered_delivery,
      text,
      part,
      outstanding,
    });

    const answer = () => {
      outstanding -= 1;
      session.send(pdu.response({ message_id: messageId }));
      if (part) collect(pdu, part, text, messageId);
      if (pdu.registered_delivery & 0x01) sendReceipt(pdu, messageId, text, now);
      if (pdu.destination_addr.replace(/^\+/, '') === SAFE_REPLY_NUMBER && (!part || part.seq === 1)) {
        sendSafeReply(pdu);
      }
    };
    if (options.delayMs > 0) setTimeout(answer, options.delayMs);
    else answer();
  });

  function collect(pdu, part, text, messageId) {
    const key = [pdu.source_addr, pdu.destination_addr, part.ref, part.total].join('|');
    const entry = segments.get(key) || { texts: new Array(part.total).fill(null), ids: [] };
    entry.texts[part.seq - 1] = text;
    entry.ids.push(messageId);
    segments.set(key, entry);
    if (entry.texts.every((t) => t !== null)) {
      segments.delete(key);
      log({
        event: 'concatenated',
        source: pdu.source_addr,
        destination: pdu.destination_addr,
        data_coding: pdu.data_coding,
        ref: part.ref,
        total: part.total,
        segments: entry.texts,
        text: entry.texts.join(''),
        message_ids: entry.ids,
      });
    }
  }

  function sendReceipt(pdu, messageId, text, submitted) {
    if (!canReceive()) return;
    const ascii = text.replace(/[^\x20-\x7e]/g, '?').slice(0, 20);
    const receipt = `id:${messageId} sub:001 dlvrd:001 submit date:${receiptDate(new Date(submitted))} ` +
      `done date:${receiptDate(new Date())} stat:DELIVRD err:000 text:${ascii}`;
    const fields = {
      source_addr_ton: pdu.dest_addr_ton,
      source_addr_npi: pdu.dest_addr_npi,
      source_addr: pdu.destination_addr,
      dest_addr_ton: pdu.source_addr_ton,
      dest_addr_npi: pdu.source_addr_npi,
      destination_addr: pdu.source_addr,
      esm_class: smpp.ESM_CLASS.MC_DELIVERY_RECEIPT,
      data_coding: 0,
      short_message: Buffer.from(receipt, 'ascii'),
    };
    if (parseInt(messageId, 16) % 2 === 1) {
      fields.receipted_message_id = messageId;
      fields.message_state = smpp.MESSAGE_STATE.DELIVERED;
    }
    session.deliver_sm(fields, (resp) =>
      log({ event: 'deliver_sm_resp', kind: 'receipt', message_id: messageId,
        status: resp.command_status }));
  }

  function sendSafeReply(pdu) {
    if (!canReceive()) return;
    session.deliver_sm({
      source_addr_ton: pdu.dest_addr_ton,
      source_addr_npi: pdu.dest_addr_npi,
      source_addr: pdu.destination_addr,
      dest_addr_ton: pdu.source_addr_ton,
      dest_addr_npi: pdu.source_addr_npi,
      destination_addr: pdu.source_addr,
      // A string: node-smpp picks the coding itself.
      short_message: '1',
    }, (resp) => log({ event: 'deliver_sm_resp', kind: 'mo', status: resp.command_status }));
  }

  session.on('enquire_link', (pdu) => {
    log({ event: 'enquire_link' });
    session.send(pdu.response());
  });

  session.on('unbind', (pdu) => {
    log({ event: 'unbind' });
    session.send(pdu.response());
    session.close();
  });

  session.on('generic_nack', (pdu) => log({ event: 'generic_nack', status: pdu.command_status }));
  session.on('unknown', (pdu) => session.send(pdu.response()));
});

server.on('error', (e) => {
  process.stderr.write(`smsc.js: ${e.message}\n`);
  process.exit(1);
});

server.listen(options.port, '127.0.0.1', () => {
  log(server.address().port);
});

// The test holds our stdin open: when it ends (the test finished or died),
// so do we.
process.stdin.on('end', () => process.exit(0));
process.stdin.on('error', () => process.exit(0));
process.stdin.resume();
