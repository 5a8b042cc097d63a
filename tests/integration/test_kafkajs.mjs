// test_kafkajs.mjs — kafkajs 2.2 against braid: admin createTopics (and its error
// cases), createPartitions, describeConfigs, deleteTopics; a producer sending
// without compression and with GZIP; a consumer group reading every record back
// with its key, value, headers and timestamp.
import { Broker, requireClient, tap } from './braidtest.mjs';

const { Kafka, logLevel, CompressionTypes, ConfigResourceTypes } = requireClient('kafkajs');

const N = 2000;

async function main() {
  const b = new Broker();
  await b.start();
  const kafka = new Kafka({ clientId: 'braid-test', brokers: [b.bootstrap], logLevel: logLevel.NOTHING,
    retry: { retries: 5, initialRetryTime: 100 } });
  const admin = kafka.admin();
  await admin.connect();

  await tap.run('admin', async () => {
    const created = await admin.createTopics({ topics: [{ topic: 'js-plain', numPartitions: 3 }, { topic: 'js-gzip', numPartitions: 2 }], waitForLeaders: true });
    tap.ok(created === true, 'admin.createTopics creates two topics');
    const again = await admin.createTopics({ topics: [{ topic: 'js-plain', numPartitions: 3 }] });
    tap.ok(again === false, 'createTopics of an existing topic reports it was not created (TOPIC_ALREADY_EXISTS)');
    let type = null;
    try { await admin.createTopics({ topics: [{ topic: 'bad name!', numPartitions: 1 }] }); } catch (e) {
      type = (e.errors && e.errors[0] && e.errors[0].type) || e.type || e.name;
    }
    tap.eq(type, 'INVALID_TOPIC_EXCEPTION', 'createTopics with an invalid name -> INVALID_TOPIC_EXCEPTION');
    const md = await admin.fetchTopicMetadata({ topics: ['js-plain', 'js-gzip'] });
    tap.eq(md.topics.map((t) => [t.name, t.partitions.length]).sort(), [['js-gzip', 2], ['js-plain', 3]], 'fetchTopicMetadata shows the partition counts');

    await admin.createTopics({ topics: [{ topic: 'js-admin', numPartitions: 1, configEntries: [{ name: 'retention.ms', value: '600000' }] }] });
    await admin.createPartitions({ topicPartitions: [{ topic: 'js-admin', count: 3 }] });
    const md2 = await admin.fetchTopicMetadata({ topics: ['js-admin'] });
    tap.eq(md2.topics[0].partitions.length, 3, 'createPartitions grows js-admin to 3');
    const dc = await admin.describeConfigs({ resources: [{ type: ConfigResourceTypes.TOPIC, name: 'js-admin' }], includeSynonyms: false });
    const entry = dc.resources[0].configEntries.find((e) => e.configName === 'retention.ms');
    tap.ok(entry && entry.configValue === '600000', 'describeConfigs shows the retention.ms override', entry);
    await admin.alterConfigs({ resources: [{ type: ConfigResourceTypes.TOPIC, name: 'js-admin', configEntries: [{ name: 'retention.ms', value: '1200000' }] }] });
    const dc2 = await admin.describeConfigs({ resources: [{ type: ConfigResourceTypes.TOPIC, name: 'js-admin' }], includeSynonyms: false });
    tap.eq(dc2.resources[0].configEntries.find((e) => e.configName === 'retention.ms').configValue, '1200000', 'alterConfigs changes it');
    await admin.deleteTopics({ topics: ['js-admin'] });
    const names = await admin.listTopics();
    tap.ok(!names.includes('js-admin') && names.includes('js-plain'), 'deleteTopics removes js-admin', names);
  });

  const sent = new Map();
  await tap.run('produce', async () => {
    const producer = kafka.producer({ allowAutoTopicCreation: false });
    await producer.connect();
    for (const [topic, compression] of [['js-plain', CompressionTypes.None], ['js-gzip', CompressionTypes.GZIP]]) {
      let acked = 0;
      for (let batch = 0; batch < N / 200; batch++) {
        const messages = [];
        for (let i = batch * 200; i < (batch + 1) * 200; i++) {
          const key = `${topic}-${String(i).padStart(5, '0')}`;
          const m = { key, value: `value ${i} ${'z'.repeat(i % 50)}`, headers: { i: String(i), topic }, timestamp: String(1680000000000 + i) };
          sent.set(key, m);
          messages.push(m);
        }
        // send() resolves only when every partition's batch was acknowledged without error.
        const res = await producer.send({ topic, compression, acks: -1, messages });
        if (res.every((r) => r.errorCode === 0)) acked += messages.length;
      }
      tap.eq(acked, N, `producer.send ${compression === CompressionTypes.GZIP ? 'GZIP' : 'uncompressed'}: ${N} records acknowledged`);
    }
    await producer.disconnect();
  });

  await tap.run('consume', async () => {
    const consumer = kafka.consumer({ groupId: 'js-group', sessionTimeout: 10000, heartbeatInterval: 1000, rebalanceTimeout: 10000 });
    await consumer.connect();
    await consumer.subscribe({ topics: ['js-plain', 'js-gzip'], fromBeginning: true });
    const got = new Map();
    const problems = [];
    let resolveAll;
    const all = new Promise((r) => { resolveAll = r; });
    await consumer.run({
      eachMessage: async ({ topic, message }) => {
        const key = message.key.toString();
        if (got.has(key)) problems.push(`duplicate ${key}`);
        got.set(key, { topic, value: message.value.toString(), timestamp: message.timestamp,
          headers: Object.fromEntries(Object.entries(message.headers).map(([k, v]) => [k, v.toString()])) });
        if (got.size >= sent.size) resolveAll();
      },
    });
    await Promise.race([all, new Promise((r) => setTimeout(r, 60000))]);
    await consumer.disconnect();
    for (const [key, m] of sent) {
      const g = got.get(key);
      if (!g) { problems.push(`missing ${key}`); continue; }
      if (g.value !== m.value || g.timestamp !== m.timestamp || JSON.stringify(g.headers) !== JSON.stringify(m.headers)) {
        problems.push(`${key} differs: ${JSON.stringify(g)}`);
      }
    }
    tap.ok(problems.length === 0 && got.size === sent.size, `consumer group read all ${sent.size} records back exactly`,
      { got: got.size, want: sent.size, problems: problems.slice(0, 5) });
  });

  await admin.disconnect();
  const code = await b.stop();
  tap.ok(code === 0, 'clean shutdown on SIGTERM', b.logTail());
}

main().catch((e) => tap.ok(false, 'test_kafkajs ran to the end', e.stack)).finally(() => tap.finish());
