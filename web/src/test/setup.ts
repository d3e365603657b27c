import { afterEach } from 'vitest';
import { cleanup, configure } from '@testing-library/react';

// Two shared cores: give findBy* room; they still return as soon as found.
configure({ asyncUtilTimeout: 5000 });

afterEach(() => {
  cleanup();
  document.cookie.split(';').forEach((c) => {
    const name = c.split('=')[0]?.trim();
    if (name) document.cookie = `${name}=; expires=Thu, 01 Jan 1970 00:00:00 GMT; path=/`;
  });
  localStorage.clear();
  window.history.replaceState(null, '', '/');
});
