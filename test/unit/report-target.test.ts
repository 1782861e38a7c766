// reportTarget(): reports go only where someone berth trusts said: the Stack, or the index
// when it names the feed's own origin over https (plain http only on loopback).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { reportTarget, type ReportTargetInput } from '../../src/sources/report-target.js';

const FEED = 'https://feed.example.com/berth';

const rows: Array<{ name: string; input: ReportTargetInput; url?: string; from?: 'stack' | 'feed'; refused?: RegExp }> = [
  { name: 'nothing named: no report', input: { feedUrl: FEED } },
  { name: "the index names the feed's own origin over https", input: { feedUrl: FEED, offered: 'https://feed.example.com/report' }, url: 'https://feed.example.com/report', from: 'feed' },
  { name: 'an explicit :443 is the same origin', input: { feedUrl: FEED, offered: 'https://feed.example.com:443/r' }, url: 'https://feed.example.com/r', from: 'feed' },
  { name: 'another host is refused', input: { feedUrl: FEED, offered: 'https://collector.evil.example/r' }, refused: /on https:\/\/collector\.evil\.example, not on the feed's own origin https:\/\/feed\.example\.com/ },
  { name: 'a sub-domain of the feed is another origin', input: { feedUrl: FEED, offered: 'https://x.feed.example.com/r' }, refused: /not on the feed's own origin/ },
  { name: 'another port is another origin', input: { feedUrl: FEED, offered: 'https://feed.example.com:8443/r' }, refused: /not on the feed's own origin/ },
  { name: 'plain http on the feed host is refused', input: { feedUrl: 'http://feed.example.com/b', offered: 'http://feed.example.com/r' }, refused: /over http, not https/ },
  { name: 'a downgrade from an https feed to http is refused', input: { feedUrl: FEED, offered: 'http://feed.example.com/r' }, refused: /over http, not https/ },
  { name: 'plain http on loopback is allowed (tests, a local proxy)', input: { feedUrl: 'http://127.0.0.1:8080/f', offered: 'http://127.0.0.1:8080/report' }, url: 'http://127.0.0.1:8080/report', from: 'feed' },
  { name: 'loopback, but another port', input: { feedUrl: 'http://127.0.0.1:8080/f', offered: 'http://127.0.0.1:9090/report' }, refused: /not on the feed's own origin/ },
  { name: 'http on localhost and ::1', input: { feedUrl: 'http://[::1]:81/f', offered: 'http://[::1]:81/r' }, url: 'http://[::1]:81/r', from: 'feed' },
  { name: 'a feed URL with credentials has the same origin', input: { feedUrl: 'https://u:p@feed.example.com/b?token=x', offered: 'https://feed.example.com/r' }, url: 'https://feed.example.com/r', from: 'feed' },
  { name: 'not a URL', input: { feedUrl: FEED, offered: '/report' }, refused: /not a URL/ },
  { name: 'a javascript: URL', input: { feedUrl: FEED, offered: 'javascript:alert(1)' }, refused: /over javascript, not https/ },
  { name: "the Stack's reportUrl wins over the index", input: { feedUrl: FEED, reportUrl: 'https://mine.example.org/r', offered: 'https://feed.example.com/report' }, url: 'https://mine.example.org/r', from: 'stack' },
  { name: "the Stack's reportUrl may be anywhere the person says", input: { feedUrl: FEED, reportUrl: 'http://10.0.0.5/r' }, url: 'http://10.0.0.5/r', from: 'stack' },
];

for (const row of rows) {
  test(`report target: ${row.name}`, () => {
    const got = reportTarget(row.input);
    assert.equal(got.url, row.url);
    if (row.from !== undefined) assert.equal('from' in got ? got.from : undefined, row.from);
    if (row.refused !== undefined) assert.match(('refused' in got ? got.refused : undefined) ?? '', row.refused);
    else assert.equal('refused' in got ? got.refused : undefined, undefined);
  });
}
