/**
 * The parts of the campaign loop that need no platform: tracking tokens (tampering), templates (escaping,
 * defaults, links), the holdout split, the privacy-proxy heuristic and the uplift statistics — with the
 * property that over many generated data sets with a known effect the 95 % intervals cover it about 95 % of
 * the time.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { describe, test } from 'node:test';
import fc from 'fast-check';
import { Rng } from '../synthetic/random.ts';
import { estimatesOnly, groupStats, upliftFromGroups } from './analysis.ts';
import { holdoutDraw, isHeldOut } from './holdout.ts';
import { privacyProxyOf } from './privacy-proxy.ts';
import { checkTemplate, renderMessage } from './template.ts';
import { signToken, verifyToken } from './tokens.ts';
import { normalQuantile, tQuantile } from './uplift.ts';

describe('tracking tokens', () => {
  const key = randomBytes(32);
  const token = { sandbox: 'prod', campaignId: 'cmp_1', messageId: 'ab'.repeat(16), kind: 'c' as const, link: 1 };

  test('a signed token verifies; any changed character, another key or another kind does not', () => {
    const text = signToken(key, token);
    assert.deepEqual(verifyToken(key, text, 'c'), token);
    assert.equal(verifyToken(key, text, 'o'), undefined);
    assert.equal(verifyToken(randomBytes(32), text), undefined);
    fc.assert(
      fc.property(fc.nat({ max: text.length - 1 }), fc.constantFrom(...'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_.'), (at, c) => {
        const changed = text.slice(0, at) + c + text.slice(at + 1);
        // The MAC covers the payload's text, so any change there fails; the signature is compared as bytes, and
        // base64url has unused low bits in its last character: a change there that decodes to the same bytes passes.
        const same = changed.split('.')[0] === text.split('.')[0] && Buffer.from(changed.split('.')[1] ?? '', 'base64url').equals(Buffer.from(text.split('.')[1]!, 'base64url'));
        assert.equal(verifyToken(key, changed) !== undefined, changed === text || same);
      }),
      { numRuns: 300 },
    );
  });
});

describe('templates', () => {
  const html = `<p>Hi {{person.name.firstName | friend}} {{person.name.lastName}}</p><a href="https://a.example/x?y=1&amp;z=2">a</a><a href="mailto:x@y">m</a><a href="https://a.example/x?y=1&z=2">again</a>`;

  test('links are extracted once, decoded; placeholders in tracked links and stray braces are refused', () => {
    assert.deepEqual(checkTemplate('s', html), ['https://a.example/x?y=1&z=2']);
    assert.throws(() => checkTemplate('s', '<a href="https://a.example/{{x}}">'), /placeholders/);
    assert.throws(() => checkTemplate('{{ bad', '<p></p>'), /placeholder/);
  });

  test('values are escaped, missing ones fall back, links become tracking URLs, pixel and unsubscribe are added', () => {
    const out = renderMessage({ subject: 'Hello {{person.name.firstName}}\r\nBcc: x', html, links: ['https://a.example/x?y=1&z=2'], defaultValue: '' }, { person: { name: { firstName: '<script>"x"</script>' } } }, {
      click: (i) => `https://t.example/c/${i}`,
      open: 'https://t.example/o.gif',
      unsubscribe: 'https://t.example/u',
    });
    assert.equal(out.subject, 'Hello <script>"x"</script> Bcc: x', 'no header injection: line breaks are removed');
    assert.ok(out.html.startsWith('<p>Hi &#60;script&#62;&#34;x&#34;&#60;/script&#62; </p>'));
    assert.equal(out.html.match(/https:\/\/t\.example\/c\/0/g)?.length, 2);
    assert.ok(out.html.includes('href="mailto:x@y"'));
    assert.ok(out.html.includes('<a href="https://t.example/u">Unsubscribe</a>'));
    assert.ok(out.html.endsWith('<img src="https://t.example/o.gif" width="1" height="1" alt="" style="display:block;border:0">'));
  });
});

describe('holdout and privacy proxies', () => {
  test('the holdout is reproducible, independent per campaign, and about the share asked for', () => {
    assert.equal(holdoutDraw('c1', 42), holdoutDraw('c1', 42));
    const held = Array.from({ length: 20000 }, (_, i) => isHeldOut('c1', i, 0.1)).filter(Boolean).length;
    assert.ok(Math.abs(held / 20000 - 0.1) < 0.006, `${held}`);
    const both = Array.from({ length: 20000 }, (_, i) => isHeldOut('c1', i, 0.1) && isHeldOut('c2', i, 0.1)).filter(Boolean).length;
    assert.ok(Math.abs(both / 20000 - 0.01) < 0.003, `${both}`);
  });

  test('Apple MPP: the bare Mozilla/5.0 agent or Apple network marks an open; real clients do not', () => {
    assert.equal(privacyProxyOf('203.0.113.9', 'Mozilla/5.0'), 'apple-mpp');
    assert.equal(privacyProxyOf('17.58.1.2', 'Mozilla/5.0 (iPhone; CPU iPhone OS 17_0 like Mac OS X)'), 'apple-mpp');
    assert.equal(privacyProxyOf('::ffff:17.1.2.3', undefined), 'apple-mpp');
    assert.equal(privacyProxyOf('203.0.113.9', 'Mozilla/5.0 (Windows NT 10.0; Win64; x64) Thunderbird/115.0'), null);
    assert.equal(privacyProxyOf('18.0.0.1', undefined, { ROUNDTRIP_MPP_CIDRS: '18.0.0.0/16' }), 'apple-mpp');
  });
});

describe('uplift statistics', () => {
  test('quantiles match tables', () => {
    assert.ok(Math.abs(normalQuantile(0.975) - 1.959964) < 1e-6);
    for (const [df, t] of [[1, 12.7062], [2, 4.3027], [5, 2.5706], [10, 2.2281], [30, 2.0423], [120, 1.9799]] as const) assert.ok(Math.abs(tQuantile(0.975, df) - t) < 2e-3, `df ${df}`);
  });

  /** One generated campaign: conversion p0 / p0 + effect, spend of a converter exponential with the given mean. */
  function simulate(seed: number, n: { treated: number; holdout: number }, p0: number, effect: number, meanSpend: number) {
    const rng = new Rng(seed, 1).reseed(0, 0);
    const group = (count: number, p: number) =>
      Array.from({ length: count }, () => {
        const converted = rng.uniform() < p;
        return { converted, revenue: converted ? rng.exponential(1 / meanSpend) : 0 };
      });
    return upliftFromGroups(groupStats(group(n.treated, p0 + effect)), groupStats(group(n.holdout, p0)));
  }

  test('a holdout too small to estimate gives null bounds, not NaN (which JSON cannot carry)', () => {
    const u = estimatesOnly(upliftFromGroups(groupStats([{ converted: true, revenue: 20 }, { converted: false, revenue: 0 }]), groupStats([{ converted: false, revenue: 0 }])));
    assert.equal(u.revenuePerProfile.low, null);
    assert.equal(u.revenuePerProfile.df, null);
    assert.equal(u.treated.profiles, 2);
    assert.doesNotThrow(() => JSON.stringify(u));
  });

  test('a known effect is recovered inside its interval, and the intervals cover the truth about 95% of the time over many seeds', () => {
    const effect = 0.03;
    const meanSpend = 80;
    const one = simulate(7, { treated: 9000, holdout: 1000 }, 0.05, effect, meanSpend);
    assert.ok(one.conversion.low <= effect && effect <= one.conversion.high, JSON.stringify(one.conversion));
    assert.ok(one.revenuePerProfile.low <= effect * meanSpend && effect * meanSpend <= one.revenuePerProfile.high, JSON.stringify(one.revenuePerProfile));
    let conversion = 0;
    let revenue = 0;
    const runs = 400;
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 2 ** 31 - 1 }), (seed) => {
        const u = simulate(seed, { treated: 1800, holdout: 200 }, 0.05, effect, meanSpend);
        if (u.conversion.low <= effect && effect <= u.conversion.high) conversion++;
        if (u.revenuePerProfile.low <= effect * meanSpend && effect * meanSpend <= u.revenuePerProfile.high) revenue++;
      }),
      { numRuns: runs, seed: 20240611 },
    );
    // Binomial(400, 0.95) lies in [0.92, 0.98] with probability > 99.7 %; the Wald interval runs a little short with 10 conversions in the holdout.
    assert.ok(conversion / runs >= 0.9 && conversion / runs <= 0.98, `conversion coverage ${conversion / runs}`);
    assert.ok(revenue / runs >= 0.9 && revenue / runs <= 0.98, `revenue coverage ${revenue / runs}`);
  });
});
