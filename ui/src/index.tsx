import { render } from 'solid-js/web';

render(() => <main><h1>Berth</h1></main>, document.getElementById('root')!);
