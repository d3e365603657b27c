import { describe, expect, test, vi } from 'vitest';
import { render, screen, within } from '@testing-library/react';
import userEvent from '@testing-library/user-event';
import { useState } from 'react';
import { ConfirmAction, ConfirmDialog } from './Modal';
import { ToastProvider } from './Toasts';
import { Pager, Table } from './Table';
import { Tabs } from './Tabs';
import { CopyButton, Field, Markdown, formatSize, shortDigest } from './ui';

describe('ConfirmDialog', () => {
  test('lists what it affects, confirms, and closes on Escape', async () => {
    const user = userEvent.setup();
    const onConfirm = vi.fn();
    const onCancel = vi.fn();
    render(<ConfirmDialog title="Confirm artifact deletion" message="Delete it?" items={['app:v1', 'app:stable']} confirmLabel="Delete artifact" onConfirm={onConfirm} onCancel={onCancel} error="Project lib is read-only" />);
    const dialog = screen.getByRole('dialog', { name: 'Confirm artifact deletion' });
    expect(within(dialog).getAllByRole('listitem').map((li) => li.textContent)).toEqual(['app:v1', 'app:stable']);
    expect(within(dialog).getByRole('alert').textContent).toBe('Project lib is read-only');
    await user.click(within(dialog).getByRole('button', { name: 'Delete artifact' }));
    expect(onConfirm).toHaveBeenCalledTimes(1);
    await user.keyboard('{Escape}');
    expect(onCancel).toHaveBeenCalledTimes(1);
  });
});

describe('ConfirmAction', () => {
  function Harness({ perform, onDone }: { perform: () => Promise<unknown>; onDone: () => void }) {
    const [open, setOpen] = useState(true);
    return (
      <ToastProvider>
        {open ? (
          <ConfirmAction title="Delete label" message="Gone from every artifact." items={['prod']} perform={perform} done="Deleted label prod" onClose={() => setOpen(false)} onDone={onDone} />
        ) : (
          <p>closed</p>
        )}
      </ToastProvider>
    );
  }

  test('runs the action, says it is done, closes and reloads', async () => {
    const user = userEvent.setup();
    let finish = () => {};
    const perform = vi.fn(() => new Promise<void>((resolve) => (finish = resolve)));
    const onDone = vi.fn();
    render(<Harness perform={perform} onDone={onDone} />);
    const dialog = screen.getByRole('dialog', { name: 'Delete label' });
    await user.click(within(dialog).getByRole('button', { name: 'Delete' }));
    expect(perform).toHaveBeenCalledTimes(1);
    // Busy while the request runs: a second click sends nothing.
    expect(within(dialog).getByRole('button', { name: /Delete/ }).hasAttribute('disabled')).toBe(true);
    finish();
    expect((await screen.findByRole('status')).textContent).toContain('Deleted label prod');
    expect(screen.getByText('closed')).toBeTruthy();
    expect(screen.queryByRole('dialog')).toBeNull();
    expect(onDone).toHaveBeenCalledTimes(1);
  });

  test('keeps the dialog open with the error when the action fails', async () => {
    const user = userEvent.setup();
    const perform = vi.fn(() => Promise.reject(new Error('label prod is in use by a retention rule')));
    const onDone = vi.fn();
    render(<Harness perform={perform} onDone={onDone} />);
    const dialog = screen.getByRole('dialog', { name: 'Delete label' });
    await user.click(within(dialog).getByRole('button', { name: 'Delete' }));
    expect((await within(dialog).findByRole('alert')).textContent).toBe('label prod is in use by a retention rule');
    expect(onDone).not.toHaveBeenCalled();
    expect(screen.queryByRole('status')).toBeNull();
    // Cancel closes it.
    await user.click(within(dialog).getByRole('button', { name: 'Cancel' }));
    expect(screen.getByText('closed')).toBeTruthy();
  });
});

describe('Table', () => {
  test('sort headers ask for ascending, then descending, and show aria-sort', async () => {
    const user = userEvent.setup();
    function T() {
      const [sort, setSort] = useState('');
      return (
        <Table
          label="Things"
          rows={[{ n: 'a' }, { n: 'b' }]}
          rowKey={(r) => r.n}
          sort={sort}
          onSort={setSort}
          columns={[
            { header: 'Name', sort: 'name', render: (r) => r.n },
            { header: 'Other', render: () => 'x' },
          ]}
        />
      );
    }
    render(<T />);
    const th = screen.getByRole('columnheader', { name: /Name/ });
    expect(th.getAttribute('aria-sort')).toBeNull();
    await user.click(within(th).getByRole('button'));
    expect(th.getAttribute('aria-sort')).toBe('ascending');
    await user.click(within(th).getByRole('button'));
    expect(th.getAttribute('aria-sort')).toBe('descending');
    expect(within(screen.getByRole('columnheader', { name: 'Other' })).queryByRole('button')).toBeNull();
    expect(screen.getAllByRole('row')).toHaveLength(3);
  });

  test('shows the empty text and the error', () => {
    render(<Table label="Things" rows={[]} rowKey={() => 1} columns={[{ header: 'A', render: () => '' }]} empty="Nothing at all." error="You need to sign in" />);
    expect(screen.getByText('Nothing at all.')).toBeTruthy();
    expect(screen.getByRole('alert').textContent).toBe('You need to sign in');
  });
});

test('Pager shows the range and moves between pages', async () => {
  const user = userEvent.setup();
  const onPage = vi.fn();
  const onSize = vi.fn();
  render(<Pager page={2} pageSize={15} total={40} onPage={onPage} onPageSize={onSize} />);
  expect(screen.getByText('16 – 30 of 40 items')).toBeTruthy();
  await user.click(screen.getByRole('button', { name: 'Next page' }));
  expect(onPage).toHaveBeenCalledWith(3);
  await user.selectOptions(screen.getByRole('combobox'), '50');
  expect(onSize).toHaveBeenCalledWith(50);
});

test('Tabs move with the arrow keys', async () => {
  const user = userEvent.setup();
  function T() {
    const [t, setT] = useState('a');
    return (
      <Tabs label="Demo" tabs={[{ id: 'a', label: 'Alpha' }, { id: 'b', label: 'Beta' }]} active={t} onChange={setT}>
        panel {t}
      </Tabs>
    );
  }
  render(<T />);
  await user.click(screen.getByRole('tab', { name: 'Alpha' }));
  await user.keyboard('{ArrowRight}');
  expect(screen.getByRole('tab', { name: 'Beta' }).getAttribute('aria-selected')).toBe('true');
  expect(screen.getByRole('tabpanel').textContent).toBe('panel b');
  expect(document.activeElement).toBe(screen.getByRole('tab', { name: 'Beta' }));
});

test('Markdown renders and strips scripts, handlers and styles', () => {
  const { container } = render(<Markdown source={'# Title\n\n**bold** [x](javascript:alert(1))\n\n<script>alert(1)</script><img src="x" onerror="alert(1)"><div style="position:fixed">s</div>'} />);
  expect(container.querySelector('h1')?.textContent).toBe('Title');
  expect(container.querySelector('strong')?.textContent).toBe('bold');
  expect(container.querySelector('script')).toBeNull();
  expect(container.querySelector('img')?.getAttribute('onerror')).toBeNull();
  expect(container.querySelector('[style]')).toBeNull();
  expect(container.querySelector('a')?.getAttribute('href') ?? '').not.toMatch(/javascript/);
});

test('Field names its input exactly by the label and describes it with the hint', () => {
  render(
    <Field label="Name" hint="lower case">
      <input />
    </Field>,
  );
  const input = screen.getByRole('textbox', { name: 'Name' });
  expect(input.getAttribute('aria-describedby')).toBeTruthy();
  expect(document.getElementById(input.getAttribute('aria-describedby')!)?.textContent).toBe('lower case');
});

test('CopyButton copies and reports failure with the text to copy by hand', async () => {
  const user = userEvent.setup();
  render(<CopyButton text="docker pull h/p/r:v1" label="Copy pull command" />);
  await user.click(screen.getByRole('button', { name: 'Copy pull command' }));
  expect(await navigator.clipboard.readText()).toBe('docker pull h/p/r:v1');
  expect(screen.getByRole('button', { name: 'Copy pull command' }).textContent).toBe('✓');
});

test('formatting helpers', () => {
  expect(formatSize(1536)).toBe('1.50 KiB');
  expect(formatSize(0)).toBe('0 B');
  expect(formatSize(undefined)).toBe('—');
  expect(shortDigest('sha256:0123456789abcdef0123')).toBe('sha256:0123456789ab');
});
