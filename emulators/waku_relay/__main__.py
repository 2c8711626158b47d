from emulators.waku_relay.main import main

raise SystemExit(main())
