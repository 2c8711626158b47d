@chat @allure.label.epic:Multi-server_chat @allure.label.story:Chatting
Feature: People chat through a Goverse cluster
  As a chat user
  I want to list rooms, join one and exchange messages that arrive by push
  So that a conversation works whichever server holds the room

  A cluster is chat servers (Goverse nodes) coordinated through etcd, and gates that users
  connect to. A user connects with a name and the password 000000.

  @critical
  Scenario: One server: rooms are listed, joining greets the user, messages come back by push
    Given a chat cluster with 1 server and 1 gate
    Then the cluster is ready to chat within 30 seconds
    Given "testuser" is connected to gate 1
    When "testuser" lists the chat rooms
    Then the rooms are "General, Technology, Crypto, Sports, Movies"
    When "testuser" joins "General"
    Then "testuser" is welcomed to "General" by SYSTEM with "Welcome to the chatroom!" and "Feel free to start chatting."
    When "testuser" says "Hello from test!" in "General"
    And "testuser" says "This is message 2" in "General"
    And "testuser" says "Final test message" in "General"
    Then "testuser" receives these messages within 5 seconds:
      | from     | message            |
      | testuser | Hello from test!   |
      | testuser | This is message 2  |
      | testuser | Final test message |

  @critical
  Scenario Outline: <servers> share the six chat objects
    Given a chat cluster with <servers> and 1 gate
    And "testuser" is connected to gate 1
    Then the six chat objects are spread over the <count> servers
    When "testuser" joins "General"
    And "testuser" says "Hello from clustered test!" in "General"
    Then "testuser" receives "Hello from clustered test!" from "testuser" within 5 seconds

    Examples:
      | servers   | count |
      | 2 servers | 2     |
      | 4 servers | 4     |

  @critical
  Scenario: Two users exchange messages on one gate
    Given a chat cluster with 2 servers and 1 gate
    And "user1" is connected to gate 1
    And "user2" is connected to gate 1
    And "user1" has joined "General"
    And "user2" has joined "General"
    When "user1" says "Hello from user1 via push!" in "General"
    Then "user2" receives "Hello from user1 via push!" from "user1" within 5 seconds
    When "user2" says "Another message from user2!" in "General"
    Then "user1" receives "Another message from user2!" from "user2" within 5 seconds

  Scenario: Two users on two gates reach each other
    Given a chat cluster with 2 servers and 2 gates
    And "alice" is connected to gate 1
    And "bob" is connected to gate 2
    And "alice" has joined "Technology"
    And "bob" has joined "Technology"
    When "alice" says "Can you see this, Bob?" in "Technology"
    Then "bob" receives "Can you see this, Bob?" from "alice" within 5 seconds
    And "alice" receives "Can you see this, Bob?" from "alice" within 5 seconds

  @isolated
  Scenario: Joining a room nobody listed creates it
    Given a chat cluster with 2 servers and 1 gate
    And "alice" is connected to gate 1
    When "alice" joins "Gardening"
    Then "alice" is welcomed to "Gardening" by SYSTEM with "Welcome to the chatroom!" and "Feel free to start chatting."
    And the cluster holds 7 chat objects, "ChatRoom-Gardening" among them
